"""Progress on long work: a bar on stderr with the total when it is known, only when stderr is a terminal.

Machine output (stdout, or stderr into a file) never sees a bar. Commands use:

    posts_of(path, fmt, options, min_bytes=...)   the posts of one input; a file's bar is bytes read of its size
    counted(items, label, total)                  any long loop: a rebuild over stored posts, ...
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

import click

from feedwatch.models import Post
from feedwatch.parse import Options, parse_path, parse_stream

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

T = TypeVar("T")
STEP = 200  # posts between two updates of a bar


def on_terminal() -> bool:
    return sys.stderr.isatty()


def input_size(path: str) -> int:
    """Return the bytes of an input: a file's size, a folder's files summed, 0 for stdin or what cannot be read."""
    if path == "-":
        return 0
    try:
        if os.path.isdir(path):
            return sum(entry.stat().st_size for entry in os.scandir(path) if entry.is_file())
        return os.path.getsize(path)
    except OSError:
        return 0


def posts_of(path: str, fmt: str, options: Options, *, min_bytes: int) -> Iterator[Post]:
    """Yield the posts of one input, with a bar when it has at least `min_bytes` and stderr is a terminal.

    A file's bar counts the bytes read against its size (so it shows a percentage and the time left) and
    names the posts read so far; a folder or stdin counts posts.
    """
    size = input_size(path)
    if not on_terminal() or (path != "-" and size < min_bytes):
        yield from parse_path(path, fmt, options)
        return
    label = os.path.basename(path.rstrip(os.sep)) or path
    if path == "-" or not os.path.isfile(path):
        yield from counted(parse_path(path, fmt, options), f"{label} (posts)", None)
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 (closed with the bar, below)
    except OSError:
        yield from parse_path(path, fmt, options)  # which says what is wrong with it
        return
    bar: ProgressBar[int] = click.progressbar(
        length=size, label=label, file=sys.stderr, item_show_func=lambda n: f"{n:,} posts" if n is not None else None
    )
    with stream, bar:
        read = 0
        for read, post in enumerate(parse_stream(stream, path, fmt, options), 1):
            if read % STEP == 0:
                bar.update(max(0, stream.tell() - bar.pos), read)
            yield post
        bar.update(max(0, size - bar.pos), read)
        bar.render_progress()  # the last count, even when the reader had reached the end of the file already


def counted(items: Iterable[T], label: str, total: int | None) -> Iterator[T]:
    """Yield `items`, with a bar of items done (of `total` when known) on a terminal."""
    if not on_terminal():
        yield from items
        return
    with click.progressbar(
        items, length=total, label=label, file=sys.stderr, show_pos=True, update_min_steps=STEP
    ) as bar:
        yield from bar
