"""Telegram Desktop exports: HTML parse speed against a naive BeautifulSoup reading, and a ~1 GB
JSON export's throughput and peak memory against plain `ijson.items` over the same file; then
`feedwatch parse` of that export to JSON Lines against the naive way to JSON Lines (json.load the
whole file, json.dumps each message), time and peak memory.

The inputs are generated here from the real samples in ../shared/formats/ when they are present,
else from the test fixtures. FEEDWATCH_BENCH_JSON_MB sets the JSON export's size (default 1024).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from common import Figure, best_of, child_peak, size

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
HTML_FILES = 4  # an export folder of this many messages*.html files
HTML_PER_FILE = 1000  # what Telegram Desktop puts in one file
JSON_MB = size("FEEDWATCH_BENCH_JSON_MB", 1024)
_MESSAGE_RE = re.compile(
    r'\n     <div class="message (?:default|service)[^"]*" id="message\d+">.*?\n     </div>\n', re.S
)


def _samples() -> Path | None:
    for candidate in (
        ROOT.parent / "shared" / "formats",
        ROOT.parents[1] / "shared" / "formats",
        Path("/work/shared/formats"),
    ):
        if candidate.is_dir():
            return candidate
    return None


def make_html_export(folder: Path) -> int:
    """Write an export folder of HTML_FILES pages cut from real pages; return its size in bytes."""
    samples = _samples()
    pages = (
        sorted((samples / "tdesktop_html_onlineverdan").glob("messages*.html"))
        if samples
        else sorted((FIXTURES / "tg_html" / "channel").glob("messages*.html"))
    )
    texts = [p.read_text(encoding="utf-8") for p in pages]
    blocks = [b for text in texts for b in _MESSAGE_RE.findall(text)]
    head = texts[0][: texts[0].index('<div class="history">') + len('<div class="history">') + 1]
    tail = texts[0][texts[0].rindex("\n    </div>\n") :]
    folder.mkdir()
    size, number = 0, 0
    for page in range(1, HTML_FILES + 1):
        body = []
        for _ in range(HTML_PER_FILE):
            number += 1
            block = blocks[number % len(blocks)]
            body.append(re.sub(r'id="message\d+"', f'id="message{number}"', block, count=1))
        name = "messages.html" if page == 1 else f"messages{page}.html"
        text = head + "".join(body) + tail
        (folder / name).write_text(text, encoding="utf-8")
        size += len(text.encode("utf-8"))
    return size


def _json_templates() -> list[dict[str, object]]:
    samples = _samples()
    if samples:
        base = json.loads((samples / "tdesktop_json_all1app_messages_array.json").read_text(encoding="utf-8"))
    else:
        base = json.loads((FIXTURES / "tg_json" / "channel.json").read_text(encoding="utf-8"))["messages"]
    extra = json.loads((FIXTURES / "tg_json" / "channel.json").read_text(encoding="utf-8"))["messages"]
    return [*base[:200], *extra]  # channel posts plus forwards, edits, polls, reactions, service messages


def make_json_export(path: Path, megabytes: int = JSON_MB) -> int:
    """Write a single-channel result.json of about `megabytes` MB; return its size in bytes."""
    templates = []
    for message in _json_templates():
        message = {**message, "id": 987654321, "date_unixtime": "1700000000"}
        templates.append(json.dumps(message, ensure_ascii=False, indent=1).replace("\n", "\n  "))
    target = megabytes * 1_000_000
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write('{\n "name": "Bench Channel",\n "type": "public_channel",\n "id": 1700000009,\n "messages": [\n  ')
        number = 0
        while written < target:
            number += 1
            message = templates[number % len(templates)].replace("987654321", str(number), 1)
            message = message.replace('"1700000000"', f'"{1_600_000_000 + number * 60}"', 1)
            chunk = (",\n  " if number > 1 else "") + message
            out.write(chunk)
            written += len(chunk)
        out.write("\n ]\n}")
    return path.stat().st_size


def _naive_bs4(folder: Path) -> None:
    from bs4 import BeautifulSoup

    for page in sorted(folder.glob("messages*.html")):
        soup = BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")
        for message in soup.select("div.message"):
            message.get_text()


def _feedwatch(folder: Path) -> None:
    from feedwatch.parse import parse_path

    for _ in parse_path(str(folder)):
        pass


def html_figures(workdir: Path) -> list[Figure]:
    folder = workdir / "html_export"
    size_mb = make_html_export(folder) / 1e6
    ours = size_mb / best_of(3, lambda: _feedwatch(folder))
    naive = size_mb / best_of(1, lambda: _naive_bs4(folder))
    return [
        Figure(
            f"HTML export parse ({size_mb:.1f} MB, {HTML_FILES} files)",
            ours,
            "MB/s",
            naive,
            "naive bs4 html.parser",
            ">= 3x baseline",
            ours >= 3 * naive,
        )
    ]


def json_figures(workdir: Path) -> list[Figure]:
    path = workdir / "result.json"
    size_mb = make_json_export(path) / 1e6
    timed = (
        "import time\nstarted = time.perf_counter()\n{body}\nresult = {{'n': n, 's': time.perf_counter() - started}}"
    )
    ours = child_peak(
        timed.format(body=f"from feedwatch.parse import parse_path\nn = sum(1 for _ in parse_path({str(path)!r}))")
    )
    floor = child_peak(
        timed.format(
            body=f"import ijson\nwith open({str(path)!r}, 'rb') as f:\n"
            f"    n = sum(1 for _ in ijson.items(f, 'messages.item'))"
        )
    )
    if ours["n"] != floor["n"]:
        raise SystemExit(f"JSON bench: {ours['n']} posts but {floor['n']} messages")
    label = f"JSON export ({size_mb:,.0f} MB, {ours['n']:,.0f} msgs)"
    cli, naive = to_json_lines(path, workdir)
    return [
        Figure(
            f"`feedwatch parse` {size_mb:,.0f} MB JSON export to JSON Lines",
            cli["s"],
            "s",
            naive["s"],
            "naive json.load loop",
            "<= 1.5x baseline",
            cli["s"] <= 1.5 * naive["s"],
        ),
        Figure(
            "  its peak RSS",
            cli["peak_rss_mb"],
            "MB",
            naive["peak_rss_mb"],
            "naive json.load loop",
            "< 200 MB (flat)",
            cli["peak_rss_mb"] < 200,
        ),
        Figure(f"{label} parse", size_mb / ours["s"], "MB/s", size_mb / floor["s"], "ijson.items only"),
        Figure(
            f"{label} peak RSS",
            ours["peak_rss_mb"],
            "MB",
            floor["peak_rss_mb"],
            "ijson.items only",
            "< 200 MB",
            ours["peak_rss_mb"] < 200,
        ),
    ]


def to_json_lines(path: Path, workdir: Path) -> tuple[dict[str, float], dict[str, float]]:
    """Time `feedwatch parse FILE > out.jsonl` and the naive way to the same kind of file, each in a child.

    The naive way: json.load the whole export, then write each message with json.dumps, one a line.
    Both are wall time of a fresh process (imports included) with its peak RSS.
    """
    out = workdir / "out.jsonl"
    ours = child_peak(
        "import subprocess, sys, time\nstarted = time.perf_counter()\n"
        f"with open({str(out)!r}, 'wb') as out:\n"
        f"    subprocess.run([{str(Path(sys.executable).parent / 'feedwatch')!r}, 'parse', {str(path)!r}],"
        " stdout=out, check=True)\n"
        "result = {'s': time.perf_counter() - started}\n"
        # the child's own peak is the parent's; the CLI's is read from its resource usage
        "import resource\nresult['cli_rss'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024"
    )
    ours["peak_rss_mb"] = ours["cli_rss"]
    naive = child_peak(
        "import json, time\nstarted = time.perf_counter()\n"
        f"with open({str(path)!r}, encoding='utf-8') as f, open({str(out)!r}, 'w', encoding='utf-8') as out:\n"
        "    for message in json.load(f)['messages']:\n"
        "        out.write(json.dumps(message, ensure_ascii=False) + '\\n')\n"
        "result = {'s': time.perf_counter() - started}"
    )
    out.unlink()
    return ours, naive


def run(workdir: Path) -> list[Figure]:
    return html_figures(workdir) + json_figures(workdir)
