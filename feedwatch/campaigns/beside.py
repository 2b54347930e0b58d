"""Campaign detection in a second process while this one stores posts: a long ingest takes the time of the slower.

Inline, each ingest batch is stored and then fed to the detector, one after the other, in one process (and one
core). `DetectBeside` runs the detector in a child process instead, for the length of a long ingest into an SQLite
store, with the same results and the same guarantee that nothing is detected twice or skipped:

- On entering, the store becomes a stream (feedwatch.campaigns.stored.take_stream: a position, the newest post,
  and a lease naming this process), so the ingest hooks store without detecting.
- After each batch commits, the parent sends its new posts' id range to the child (`committed`). The child reads
  those posts back and feeds them, one ingest batch to one `feed` as inline, so the detector sees the same
  batches in the same order and reaches the same state.
- The child writes its state and moves the position in one transaction (`stored.advance`), only when the parent
  lets it, between two of the parent's batches (the "ready" / "go" / "done" exchange below): SQLite has one
  writer at a time, and a child left to wait for the lock would wait for most of the ingest.
- On leaving, the parent waits for the child to feed the last batch, then hands detection back to the hooks
  (`release_stream`). If the child fails, the parent feeds what it had not, itself, and hands detection back
  then (`problem` says why). If the parent dies, its lease stays behind; the next writer to open the store sees
  that its process is gone and does the same (`release_stale`). Those catch-ups feed 5,000 ids at a time rather
  than the ingest's batches: every post is counted once, though the order of posts within a batch (and so a
  close call between two alerts) can differ from inline detection.

The child is `python -m feedwatch.campaigns.beside DATABASE`, spoken to in lines on its standard input and output
(so it never imports the caller's main module, as a multiprocessing child would). It costs a Python start (about
half a second), so the command line uses it for large inputs only.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from feedwatch.campaigns import stored
from feedwatch.campaigns.detector import Detector
from feedwatch.campaigns.model import DEFAULTS, Settings
from feedwatch.models import Post
from feedwatch.store.backend import is_postgres
from feedwatch.store.db import store_errors

# The most posts read at once: an ingest batch is fed whole (the same batch as inline) up to this size; a longer
# range (other writers' posts stored in between) is fed in pieces, so memory stays bounded.
PIECE = 20_000
# The child writes every this many batches (and at the end): each write is a wait for the parent (one writer at a
# time), and a write of four batches costs little more than a write of one (the same tags recur). A child that
# dies loses at most this many batches' work, which the parent or the next writer feeds again.
WRITE_EVERY = 4


class DetectBeside:
    """A context that detects campaigns in a child process while the store ingests.

        with DetectBeside(store) as beside:
            store.ingest(posts, source, on_new=beside.hook, committed=beside.committed)

    On PostgreSQL, or on a store that is a stream already (workers), `hook` is the inline hook.
    """

    def __init__(self, store: Any, settings: Settings = DEFAULTS):
        from feedwatch.campaigns.stored import IngestHook

        self.store, self.settings = store, settings
        self.inline = IngestHook(settings)
        self.lease: str | None = None
        self.child: subprocess.Popen[bytes] | None = None
        self.replies: _Lines | None = None  # what the child says, read without blocking
        self.heard: deque[str] = deque()
        self.sent = 0  # the last id sent to the child: each batch sent is the ids after it
        self.last: int | None = None  # the highest new id of the batch in progress, sent once it commits
        self.alerts = 0
        self.problem: str | None = None  # why the child stopped before the end, when it did (the ingest went on)

    @property
    def active(self) -> bool:
        """True while the child detects (the store is a stream this process holds)."""
        return self.lease is not None

    def __enter__(self) -> DetectBeside:
        conn = self.store.db.conn
        if is_postgres(conn) or self.settings != DEFAULTS:
            return self  # the child runs the default settings; other settings detect inline
        with store_errors(self.store.path):
            stored.release_stale(conn, self.settings)
            if not stored.take_stream(conn):
                return self  # workers hold the stream: the hooks store without detecting, as they would
            self.lease = stored.holder()
            self.sent = stored.stream_position(conn) or 0
        package = str(Path(__file__).resolve().parents[2])  # the feedwatch this process runs
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package, os.environ.get("PYTHONPATH")])))
        try:
            self.child = subprocess.Popen(
                [sys.executable, "-m", "feedwatch.campaigns.beside", str(self.store.path)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
                start_new_session=True,  # Ctrl-C at the terminal stops the parent; the child ends when its pipe does
            )
        except OSError:
            self._give_back()
            return self
        assert self.child.stdout is not None
        self.replies = _Lines(self.child.stdout)
        return self

    def hook(self, db: Any, fresh: list[tuple[int, Post]]) -> None:
        """`on_new` for Store.ingest: inside the batch's transaction, note its new posts (or detect them inline)."""
        conn = self.store.db.conn
        if self.lease is not None and not stored.holds(conn, self.lease):
            # Taken from it (a writer on another host judged it gone): the child's work is not ours to write.
            self.problem = "the stream was taken over by another process"
            self._stop_child()
            self.lease = None
        if not self.active:
            self.inline(db, fresh)
            return
        stored.beat(conn)
        self.last = fresh[-1][0]  # fresh is in id order

    def committed(self) -> None:
        """Called by Store.ingest after each batch commits: let a waiting child write, then send the batch on."""
        if not self.active:
            return
        try:
            self._serve(until_finished=False)  # first, so a child waiting to write does so before it has more to do
            if self.last is not None:
                # From the last id sent: posts other writers stored in between (without detecting) come along.
                self._say(f"batch {self.sent} {self.last}")
                self.sent, self.last = self.last, None
        except (OSError, EOFError, ValueError) as failed:
            self.problem = str(failed)
            self._take_over()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if not self.active:
            return
        if kind is not None:  # stopped: the lease stays, and the next writer feeds what the child had not
            self._stop_child()
            return
        try:
            self._say("end")
            self._serve(until_finished=True)
        except (OSError, EOFError, ValueError) as failed:
            self.problem = str(failed)
            self._take_over()
            return
        except BaseException:  # Ctrl-C while waiting: as when stopped mid-ingest
            self._stop_child()
            raise
        self._stop_child()
        self._give_back()

    # -- the exchange with the child ------------------------------------------------------------------------------

    def _say(self, line: str) -> None:
        assert self.child is not None and self.child.stdin is not None
        self.child.stdin.write(line.encode() + b"\n")
        self.child.stdin.flush()

    def _hear(self, block: bool) -> str | None:
        """The child's next line (None when there is none yet and not `block`); EOFError when it ended."""
        if not self.heard:
            assert self.replies is not None
            self.heard.extend(self.replies.read(block))
        return self.heard.popleft() if self.heard else None

    def _serve(self, *, until_finished: bool) -> None:
        """Answer the child's lines: "ready" (it has fed batches and would write them) gets "go".

        The parent does not wait for the write: it reads its next batch meanwhile, and its next transaction
        waits for the child's to end (SQLite's lock). Between batches only lines already there are read; at
        the end, every line until "finished".
        """
        while (message := self._hear(block=until_finished)) is not None:
            if message == "ready":
                self._say("go")
            elif message.startswith("done "):
                self.alerts += int(message.split()[1])
            elif message == "finished":
                return
            else:
                raise EOFError(message)  # "lost" (another detector took the stream) or "failed ..."

    def _take_over(self) -> None:
        """The child is gone: feed here what it had not, and hand detection back to the inline hook."""
        self._stop_child()
        self._give_back()

    def _give_back(self) -> None:
        """Feed what the child had not (nothing, when it finished), and hand detection back to the hooks."""
        lease, self.lease = self.lease, None
        if lease is not None:
            with store_errors(self.store.path):
                self.alerts += stored.release_stream(self.store.db.conn, lease, self.settings)

    def _stop_child(self) -> None:
        child, self.child = self.child, None
        if child is None:
            return
        for pipe in (child.stdin, child.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


class _Lines:
    """Lines from a pipe, read straight from its descriptor (never left in a buffer that select cannot see)."""

    def __init__(self, stream: IO[bytes]):
        self.fd = stream.fileno()
        self.buffer = b""
        self.closed = False

    def read(self, block: bool) -> list[str]:
        """Return the whole lines that have arrived (waiting for one when `block`); EOFError once the parent is gone."""
        while True:
            if b"\n" in self.buffer:
                *lines, self.buffer = self.buffer.split(b"\n")
                return [line.decode() for line in lines]
            if self.closed:
                raise EOFError
            if not block and not select.select([self.fd], [], [], 0)[0]:
                return []
            chunk = os.read(self.fd, 65536)
            if not chunk:
                self.closed = True
            self.buffer += chunk


def child_main(path: str) -> int:
    """The child: feed each batch the parent sends, write when it says "go", end when it says "end"."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent; the child ends when its pipe closes
    out = sys.stdout.buffer

    def say(line: str) -> None:
        out.write(line.encode() + b"\n")
        out.flush()

    try:
        _detect(path, _Lines(sys.stdin.buffer), say)
    except (EOFError, BrokenPipeError):
        return 0  # the parent is gone: what was not written is fed again by whoever takes the stream
    except Exception as exc:  # the parent feeds what this did not
        with contextlib.suppress(OSError):
            say(f"failed {type(exc).__name__}: {exc}".replace("\n", " "))
        return 1
    return 0


def _detect(path: str, lines: _Lines, say: Any) -> None:
    from feedwatch.store.db import connect

    conn = connect(Path(path), check_pages=False)  # the parent opened (and checked) the store already
    try:
        _feed(conn, lines, say)
    finally:
        conn.close()


def _feed(conn: Any, lines: _Lines, say: Any) -> None:
    position = stored.stream_position(conn)
    if position is None:
        say("finished")
        return
    detector = Detector(conn, DEFAULTS)
    fed = position  # the last id fed; written up to `position`
    batches: deque[tuple[int, int]] = deque()
    asked = ended = False
    unwritten = 0  # batches fed since the last write
    while True:
        # While it waits for "go" it starts no batch: the parent says "go" between two of its own batches, and
        # the child must be between two of its own to write.
        for message in lines.read(block=not (batches and not asked)):
            word, *numbers = message.split()
            if word == "batch":
                batches.append((int(numbers[0]), int(numbers[1])))
            elif word == "end":
                ended = True
            elif word == "go":  # only ever the answer to "ready", so every batch fed is whole
                asked = False
                written = stored.advance(conn, detector, position, fed)
                if written is None:
                    say("lost")
                    return
                position, unwritten = fed, 0
                say(f"done {written}")
        if batches and not asked:
            after, upto = batches.popleft()
            posts = stored.stored_range(conn, after, upto, PIECE)
            if len(posts) == PIECE and posts[-1][0] < upto:  # a range longer than a batch: the rest after this
                batches.appendleft((posts[-1][0], upto))
                upto = posts[-1][0]
            detector.feed(posts)
            fed, unwritten = upto, unwritten + 1
        if fed > position and not asked and (unwritten >= WRITE_EVERY or (ended and not batches)):
            say("ready")
            asked = True
        if ended and not batches and fed == position:
            say("finished")
            return


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))
