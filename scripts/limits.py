"""Hostile sizes through `feedwatch parse`: each case's outcome and peak memory (VmHWM of the child).

Cases: a multi-GB dump (many posts), the same dump gzipped, a single 50 MB
line, a million hashtags in one post, a multi-GB file that claims to be a t.me/s
page, and a gzip bomb (4 GB of one repeated post in a few MB). Each must end
with posts or one clear error line, in bounded memory, never an OOM kill.

With --network, hostile answers from a local t.me/s server through `feedwatch
poll` instead (the test suite's server; the hostile page is the channel's
second, so the first page's posts must be stored): a gzip bomb, an endless
chunked body, a byte every 3 s, a 200 MB page, an endless ?before= chain, a
non-ASCII Retry-After.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "seeds" / "004_01d4050f5de082cc.txt"
MEASURE = """
import json, subprocess, sys, threading
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
peak = 0
def watch():
    global peak
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as f:
                peak = max(peak, int(next(l for l in f if l.startswith("VmHWM")).split()[1]))
        except (OSError, StopIteration):
            pass
        threading.Event().wait(0.05)
t = threading.Thread(target=watch); t.start()
lines = sum(1 for _ in proc.stdout)
err = proc.stderr.read().decode(errors="replace")
proc.wait(); t.join()
print(json.dumps({"code": proc.returncode, "posts": lines, "stderr": err.strip()[-300:], "peak_mb": peak / 1024}))
"""


def write_repeated(path: Path, piece: str, size: int) -> None:
    block = (piece * max(1, (1 << 20) // len(piece.encode()))).encode()
    with path.open("wb") as out:
        written = 0
        while written < size:
            out.write(block)
            written += len(block)


def gzip_file(source: Path, target: Path) -> None:
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: the gzip container
    with source.open("rb") as data, target.open("wb") as out:
        while chunk := data.read(1 << 20):
            out.write(packer.compress(chunk))
        out.write(packer.flush())


def write_bomb(path: Path, piece: str, size: int) -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = (piece * max(1, (1 << 20) // len(piece.encode()))).encode()
    with path.open("wb") as out:
        for _ in range(size // len(block)):
            out.write(packer.compress(block))
        out.write(packer.flush())


def cases(folder: Path, gigabytes: float) -> list[tuple[str, Path, list[str]]]:
    big = int(gigabytes * 2**30)
    dump = folder / "big_dump.txt"
    write_repeated(dump, SEED.read_text(encoding="utf-8") + "\n", big)  # the seed's real posts, ~4 KB each
    line = folder / "one_line.txt"
    line.write_text("Forwarded from X\n" + "word " * (10 * 2**20) + "\n", encoding="utf-8")
    tags = folder / "many_tags.json"  # a Desktop export message: its hashtags are derived from the text
    text = " ".join(f"#t{i}" for i in range(1_000_000))
    message = {
        "id": 1,
        "type": "message",
        "date": "2024-01-01T00:00:00",
        "date_unixtime": "1704067200",
        "from": "Channel",
        "from_id": "channel1",
        "text_entities": [],
        "text": text,
    }
    tags.write_text(json.dumps([message]), encoding="utf-8")
    page = folder / "huge_page.html"
    write_repeated(page, '<div class="tgme_widget_message" data-post="x/1">padding</div>\n', big)
    packed = folder / "big_dump.txt.gz"
    gzip_file(dump, packed)
    bomb = folder / "bomb.txt.gz"
    write_bomb(bomb, "Forwarded from X\nthe same words again #again\n", 4 * 2**30)
    return [
        (f"dump of {gigabytes:g} GB (many posts)", dump, []),
        (f"the same dump gzipped ({packed.stat().st_size / 2**20:,.0f} MB)", packed, []),
        (f"gzip bomb: 4 GB of one repeated post in {bomb.stat().st_size / 2**20:,.1f} MB", bomb, []),
        ("a single 50 MB line", line, []),
        ("a million hashtags in one post (Desktop JSON)", tags, []),
        (f"{gigabytes:g} GB file claiming to be a t.me/s page", page, ["--format", "tme-html"]),
    ]


NETWORK = {
    "gzip bomb (1 MB inflating to 1 GB)": "bomb",
    "never-ending chunked body": "endless",
    "a byte every 3 s": "drip",
    "a 200 MB page": "huge",
    "endless ?before= chain": "chain",
    "Retry-After: \u00b2 on a 429": "retry_after",
}


def network(deadline: float) -> None:
    """Poll a hostile local server once per case; print outcome, peak memory and time."""
    sys.path.insert(0, str(ROOT / "tests"))
    from tme_server import TmeServer, gzip_bomb, make_posts

    gzip_bomb()
    for name, kind in NETWORK.items():
        with TmeServer(drip_seconds=3.0) as tme, tempfile.TemporaryDirectory(prefix="feedwatch-limits-") as tmp:
            if kind == "chain":
                tme.add_endless("MFARussia")
            else:
                tme.add_channel("MFARussia", make_posts(60))
                if kind == "retry_after":
                    tme.fault("MFARussia", "429", retry_after="\u00b2")
                else:
                    tme.fault("MFARussia", kind, times=10, path_has="before=")
            config = Path(tmp) / "feedwatch.toml"
            config.write_text(
                f"[web]\nmin_delay = 0.0\njitter = 0.0\nbackoff = 0.1\ndeadline = {deadline}\n", encoding="utf-8"
            )
            started = time.perf_counter()
            command = [
                sys.executable,
                "-m",
                "feedwatch",
                "poll",
                "MFARussia",
                "--db",
                f"{tmp}/fw.db",
                "--config",
                str(config),
                "--backfill",
                "all",
            ]
            out = subprocess.run(
                [sys.executable, "-c", MEASURE, *command],
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**os.environ, "FEEDWATCH_TME_BASE_URL": tme.base_url},
            )
            result = json.loads(out.stdout)
            stored = sqlite3.connect(f"{tmp}/fw.db").execute("SELECT count(*) FROM posts").fetchone()[0]
            line = result["stderr"].splitlines()[-1] if result["stderr"] else "ok"
            print(
                f"{name:36} exit {result['code']}  {stored:>5} posts stored  peak {result['peak_mb']:6,.1f} MB  "
                f"{time.perf_counter() - started:6.1f} s  {line}",
                flush=True,
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gb", type=float, default=2.0, help="size of the big inputs in GB (default 2)")
    parser.add_argument("--network", action="store_true", help="hostile HTTP answers through feedwatch poll")
    parser.add_argument("--deadline", type=float, default=10.0, help="web.deadline for --network (default 10 s)")
    args = parser.parse_args()
    if args.network:
        network(args.deadline)
        return 0
    with tempfile.TemporaryDirectory(prefix="feedwatch-limits-") as tmp:
        for name, path, extra in cases(Path(tmp), args.gb):
            started = time.perf_counter()
            command = [sys.executable, "-m", "feedwatch", "parse", *extra, str(path)]
            out = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, cwd=ROOT)
            result = json.loads(out.stdout)
            if "many_tags" in path.name and result["posts"]:
                shown = subprocess.run(command, capture_output=True, text=True, cwd=ROOT).stdout
                post = json.loads(shown)
                result["stderr"] = f"{len(post['hashtags'])} hashtags kept, approximate={post['approximate']}"
            size = path.stat().st_size / 2**20
            print(
                f"{name:48} {size:9,.0f} MB in  exit {result['code']}  {result['posts']:>9,} posts  "
                f"peak {result['peak_mb']:7,.1f} MB  {time.perf_counter() - started:6.1f} s  "
                f"{result['stderr'].splitlines()[-1] if result['stderr'] else ''}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
