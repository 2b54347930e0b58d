"""Bounded HTTP: every response feedwatch reads stops at a size and a total deadline.

A server feedwatch polls or delivers to is not trusted. `request()` streams the
answer and stops once its *decoded* size passes `max_bytes` (so a small gzip
body that inflates to gigabytes is stopped on what it inflates to), and gives
the whole request, connection and headers included, one deadline: a server
that sends a byte every few seconds resets a per-read timeout forever, but not
the deadline. The deadline reaches below httpx through `bounded_transport()`,
whose sockets shorten every connect, read and write to the time left.

`parse_retry_after()` is the one reading of a Retry-After header, for polling
and for webhooks alike.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx

# The longest wait a Retry-After is taken to ask for; anything longer reads as this (a day).
MAX_RETRY_AFTER = 86_400.0

_DEADLINE: ContextVar[float | None] = ContextVar("feedwatch_http_deadline", default=None)


class BoundExceeded(Exception):
    """A response passed a bound; `str()` says which, for a caller to put in its one line."""


class TooLarge(BoundExceeded):
    pass


class TooSlow(BoundExceeded):
    pass


@dataclass(frozen=True)
class Reply:
    """A response read within its bounds: status, headers and the decoded body (empty when not read)."""

    status: int
    headers: httpx.Headers
    body: bytes
    encoding: str

    @property
    def text(self) -> str:
        return self.body.decode(self.encoding, errors="replace")


def request(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    max_bytes: int,
    deadline: float,
    read_body: bool | Callable[[int], bool] = True,
    **kwargs: Any,
) -> Reply:
    """Make one request and return its Reply; raise TooLarge or TooSlow past a bound, httpx errors as they come.

    `deadline` is in seconds for the whole exchange; `max_bytes` bounds the decoded body.
    Without `read_body` (or when `read_body(status)` is false) only the status and headers are read: a
    webhook's answer body, or the body of an error status, is not needed.
    """
    end = time.monotonic() + deadline
    token = _DEADLINE.set(end)
    kwargs["headers"] = {**kwargs.get("headers", {}), "Accept-Encoding": "gzip, deflate"}
    try:
        with client.stream(method, url, **kwargs) as response:
            wanted = read_body(response.status_code) if callable(read_body) else read_body
            body = _read(response, max_bytes, deadline, end) if wanted else b""
            return Reply(response.status_code, response.headers, body, response.encoding or "utf-8")
    except httpx.TimeoutException:
        if time.monotonic() >= end:
            raise TooSlow(_slow(deadline)) from None
        raise
    finally:
        _DEADLINE.reset(token)


def _read(response: httpx.Response, max_bytes: int, deadline: float, end: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes:
        raise TooLarge(_large(max_bytes))
    if response.is_stream_consumed:  # a transport that answered from memory (httpx.MockTransport): decoded already
        if len(response.content) > max_bytes:
            raise TooLarge(_large(max_bytes))
        return response.content
    inflate = _Inflater(response.headers.get("content-encoding", ""))
    chunks: list[bytes] = []
    size = 0
    for raw in response.iter_raw():
        for chunk in inflate(raw):  # counted by what it inflates to
            size += len(chunk)
            if size > max_bytes:
                raise TooLarge(_large(max_bytes))
            chunks.append(chunk)
        if time.monotonic() >= end:
            raise TooSlow(_slow(deadline))
    return b"".join(chunks)


class _Inflater:
    """Decode a body as it comes, never more than STEP bytes at once (httpx's decoders inflate a whole
    read in one go: 64 KB of gzip can become 64 MB). feedwatch asks for gzip or deflate only."""

    STEP = 1 << 20

    def __init__(self, encoding: str):
        encoding = encoding.strip().lower()
        if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise httpx.DecodingError(f"unexpected Content-Encoding {encoding[:40]!r} (feedwatch asks for gzip)")
        self.wbits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}.get(
            encoding
        )
        self.zlib = zlib.decompressobj(self.wbits) if self.wbits is not None else None
        self.started = False

    def __call__(self, data: bytes) -> Iterator[bytes]:
        if self.zlib is None:
            yield data
            return
        try:
            if not self.started and self.wbits == zlib.MAX_WBITS:
                self.started = True
                try:  # "deflate" is meant to be zlib-wrapped; some servers send it raw
                    zlib.decompressobj(zlib.MAX_WBITS).decompress(data[:64], 1)
                except zlib.error:
                    self.zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            while not self.zlib.eof:
                out = self.zlib.decompress(data, self.STEP)
                data = self.zlib.unconsumed_tail
                if out:
                    yield out
                if not data and len(out) < self.STEP:
                    break  # all input used and no output held back: wait for the next read
        except zlib.error as exc:
            raise httpx.DecodingError(f"the compressed body is corrupt ({exc})") from None


def _large(max_bytes: int) -> str:
    return f"the answer is larger than {_size(max_bytes)}"


def _slow(deadline: float) -> str:
    return f"no complete answer within {deadline:g} s"


def _size(count: int) -> str:
    return f"{count / 1e6:g} MB" if count >= 1_000_000 else f"{count / 1e3:g} KB"


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Return the seconds a Retry-After asks for: ASCII delta-seconds or an HTTP date; None for anything else."""
    if value is None:
        return None
    value = value.strip(" \t")
    if not value or not value.isascii():
        return None  # "²" and other non-ASCII digits are not delta-seconds
    if value.isdigit():
        return min(float(value.lstrip("0")[:12] or 0), MAX_RETRY_AFTER)
    if not value[:1].isalpha():
        return None  # an HTTP date starts with the day's name; "1.5" or "-3" is no date
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)


def bounded_transport(limits: httpx.Limits | None = None, local_address: str | None = None) -> httpx.HTTPTransport:
    """Return an httpx transport whose connects, reads and writes end at the deadline `request()` sets.

    With `local_address`, every connection leaves from that address (a worker's own source address).
    """
    limits = limits or httpx.Limits()
    transport = httpx.HTTPTransport(limits=limits, local_address=local_address)
    # httpx does not take a network backend; its pool is rebuilt with the same limits and one that does.
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        local_address=local_address,
        network_backend=_DeadlineBackend(httpcore.SyncBackend()),
    )
    return transport


def _left(timeout: float | None) -> float | None:
    """Return the timeout for one socket operation: the given one, shortened to the deadline's time left."""
    end = _DEADLINE.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream):
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend):
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(host, port, _left(timeout), local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_unix_socket(path, _left(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)
