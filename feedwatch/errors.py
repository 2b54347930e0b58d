"""Every error feedwatch raises on purpose.

    FeedwatchError
    ├── ConfigError            a bad or unknown setting
    ├── ParseError             an input that is not what it claims (names the file and the place)
    ├── SourceError            a channel could not be read
    │   ├── ChannelNotFound
    │   ├── PreviewUnavailable   the channel has no public t.me/s web preview
    │   ├── SourceUnreachable    network down, DNS, timeouts
    │   └── RateLimited          429 / FloodWait, with retry_after seconds
    ├── StoreError             the database cannot be opened or written
    │   └── QueryError           a search query that is not valid FTS5 syntax
    └── DeliveryError          a digest could not be delivered

The library raises and never prints or exits; `feedwatch.cli` turns these into
one-line messages in one place. `str(error)` is that line.
"""

from __future__ import annotations


class FeedwatchError(Exception):
    """Base of all feedwatch errors; `str()` is a one-line message for people."""


class ConfigError(FeedwatchError):
    pass


class ParseError(FeedwatchError):
    """An input that cannot be parsed: names the file, the place and what to try."""

    def __init__(self, path: str, message: str, *, place: str | None = None, hint: str | None = None):
        self.path = path
        self.place = place
        self.message = message
        self.hint = hint
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = f"{self.path}: {self.place}: " if self.place else f"{self.path}: "
        return where + self.message + (f". {self.hint}" if self.hint else "")


class SourceError(FeedwatchError):
    pass


class ChannelNotFound(SourceError):
    pass


class PreviewUnavailable(SourceError):
    pass


class SourceUnreachable(SourceError):
    pass


class RateLimited(SourceError):
    def __init__(self, message: str, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class StoreError(FeedwatchError):
    pass


class DeliveryError(FeedwatchError):
    pass


class QueryError(StoreError):
    """A search query SQLite's FTS5 cannot read; `query` is the query, `detail` what FTS5 said."""

    def __init__(self, query: str, detail: str):
        self.query = query
        self.detail = detail
        super().__init__(
            f"search query {query!r} is not valid FTS5 syntax ({detail}). "
            "Put words in double quotes to search for them as written"
        )
