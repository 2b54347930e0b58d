"""A real HTTP server on 127.0.0.1 that serves t.me/s-shaped pages, with faults on demand.

Pages follow the real web preview (FORMATS.md §1): up to 20 message widgets per
page in ascending id order, `?before=N` (ids < N) and `?after=N` (ids > N),
`<link rel="prev">` / `rel="next"` / `canonical`, deleted posts leaving gaps.
Faults are queued per channel: 429 with Retry-After, 500, a slow answer (a
client timeout), a truncated page, drifted markup; a channel without a preview
redirects to the landing page `/<name>` as t.me does.

Hostile answers too: "bomb" (1 MB of gzip that inflates to 1 GB), "endless"
(a chunked body that never ends), "drip" (a byte every `drip_seconds`, from
the first byte of the status line), "huge" (a 200 MB page), and an `endless`
channel whose `?before=` chain of fresh posts never ends.
"""

from __future__ import annotations

import base64
import html
import json
import re
import socket
import struct
import sys
import threading
import time
import zlib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

PAGE = 20
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "monitor" / "posts.json"


@dataclass(frozen=True)
class FakePost:
    id: int
    date: datetime
    text: str
    views: int = 0
    edited: bool = False
    forward: dict | None = None  # {"channel", "title", "message_id"}


@dataclass
class FakeChannel:
    name: str
    title: str
    posts: dict[int, FakePost] = field(default_factory=dict)
    preview: bool = True
    endless: bool = False  # every page links to an older one, with fresh posts dated now


@dataclass
class Fault:
    kind: str  # "429", "500", "reset", "slow", "truncate", "cut", "drift", or one of HOSTILE
    times: int = 1
    retry_after: str | None = None
    path_has: str = ""  # only requests whose path+query contains this


def make_posts(
    count: int,
    *,
    first_id: int = 1,
    start: datetime | None = None,
    step: timedelta = timedelta(hours=6),
    deleted: tuple[int, ...] = (),
    salt: str = "",
) -> list[FakePost]:
    """Return `count` posts from the fixture texts, ids from `first_id` skipping `deleted`, one per `step`.

    `salt` goes into every text, so that two channels' posts are not the same text.
    """
    samples = json.loads(FIXTURE.read_text(encoding="utf-8"))
    start = start or datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    posts, number = [], first_id
    while len(posts) < count:
        if number not in deleted:
            sample = samples[number % len(samples)]
            text = sample["text"].replace("\n\n#", f"\n\nNo. {number}{salt}.\n\n#", 1)
            posts.append(
                FakePost(
                    number, start + step * len(posts), text, sample["views"] + number, forward=sample.get("forward")
                )
            )
        number += 1
    return posts


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up mid-response (killed pollers, timeouts) are expected here, not errors to print."""

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class TmeServer:
    """The server and its state; use as a context manager (starts a thread, stops it on exit)."""

    def __init__(
        self, latency: float = 0.0, slow_seconds: float = 1.0, drip_seconds: float = 3.0, per_source: float = 0.0
    ):
        self.channels: dict[str, FakeChannel] = {}
        self.requests: list[str] = []
        self.clients: list[str] = []  # the source address of each request
        self.per_source = per_source  # seconds between two answers to one source address (a per-address limit)
        self._next_answer: dict[str, float] = {}
        self.faults: dict[str, list[Fault]] = {}
        self.latency = latency
        self.slow_seconds = slow_seconds
        self.drip_seconds = drip_seconds
        self.lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.request_queue_size = 256
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> TmeServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add_channel(self, name: str, posts: list[FakePost], title: str | None = None, preview: bool = True) -> None:
        with self.lock:
            self.channels[name.lower()] = FakeChannel(name, title or name, {p.id: p for p in posts}, preview)

    def add_endless(self, name: str) -> None:
        """Add a channel whose pages never run out: each `?before=N` gives the 20 ids below N, dated now."""
        with self.lock:
            self.channels[name.lower()] = FakeChannel(name, name, {}, endless=True)

    def add_posts(self, name: str, posts: list[FakePost]) -> None:
        with self.lock:
            self.channels[name.lower()].posts.update({p.id: p for p in posts})

    def edit(self, name: str, post_id: int, text: str | None = None, views: int | None = None) -> None:
        with self.lock:
            channel = self.channels[name.lower()]
            post = channel.posts[post_id]
            changes: dict = {"views": views if views is not None else post.views}
            if text is not None:
                changes.update(text=text, edited=True)
            channel.posts[post_id] = replace(post, **changes)

    def delete(self, name: str, post_id: int) -> None:
        with self.lock:
            del self.channels[name.lower()].posts[post_id]

    def fault(self, name: str, kind: str, times: int = 1, retry_after: str | None = None, path_has: str = "") -> None:
        with self.lock:
            self.faults.setdefault(name.lower(), []).append(Fault(kind, times, retry_after, path_has))

    def count(self, name: str) -> int:
        """Return how many requests asked for channel `name`'s preview pages."""
        return sum(1 for r in self.requests if r.split("?")[0].lower() == f"/s/{name.lower()}")

    def take_fault(self, name: str, target: str) -> Fault | None:
        with self.lock:
            for fault in self.faults.get(name, []):
                if fault.times > 0 and fault.path_has in target:
                    fault.times -= 1
                    return fault
        return None


def _handler(server: TmeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            source = self.client_address[0]
            with server.lock:
                server.requests.append(self.path)
                server.clients.append(source)
                now = time.monotonic()
                turn = max(now, server._next_answer.get(source, 0.0))
                server._next_answer[source] = turn + server.per_source
            if turn > now:
                time.sleep(turn - now)  # this address's requests are answered one per `per_source` seconds
            if server.latency:
                time.sleep(server.latency)
            parts = urlsplit(self.path)
            if m := re.fullmatch(r"/s/([A-Za-z0-9_]+)", parts.path):
                self._preview(m.group(1), parse_qs(parts.query))
            elif m := re.fullmatch(r"/([A-Za-z0-9_]+)", parts.path):
                self._send(200, _landing(m.group(1)))
            else:
                self._send(404, "<html><body>Not found</body></html>")

        def _preview(self, name: str, query: dict[str, list[str]]) -> None:
            with server.lock:
                channel = server.channels.get(name.lower())
            if channel is None or not channel.preview:
                self.send_response(302)
                self.send_header("Location", f"{server.base_url}/{name}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            fault = server.take_fault(name.lower(), self.path)
            kind = fault.kind if fault else ""
            if kind in ("429", "500"):
                headers = {"Retry-After": fault.retry_after} if fault and fault.retry_after else {}
                self._send(int(kind), "<html><body>Too Many Requests</body></html>", headers)
                return
            if kind == "reset":  # a TCP reset before any response: SO_LINGER 0, then close
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if kind in HOSTILE:
                HOSTILE[kind](self, server)
                return
            if kind == "slow":
                time.sleep(server.slow_seconds)
            with server.lock:
                page = render_page(
                    _endless_page(channel, query) if channel.endless else channel, query, drift=kind == "drift"
                )
            body = page.encode("utf-8")
            if kind == "truncate":
                self._send_bytes(200, body[: len(body) // 2])
            elif kind == "cut":
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[: len(body) // 3])
                self.close_connection = True
            else:
                self._send_bytes(200, body)

        def _send(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
            self._send_bytes(status, text.encode("utf-8"), headers)

        def _send_bytes(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _endless_page(channel: FakeChannel, query: dict[str, list[str]]) -> FakeChannel:
    """Return the part of an endless channel one page shows: 20 fresh ids below `before`, and one older."""
    before = int(query["before"][0]) if "before" in query else 2_000_000_000
    now = datetime.now(UTC).replace(microsecond=0)
    posts = make_posts(
        PAGE + 1, first_id=before - PAGE - 1, start=now - timedelta(minutes=PAGE + 1), step=timedelta(minutes=1)
    )
    return replace(channel, posts={p.id: p for p in posts})


_BOMB: list[bytes] = []


def gzip_bomb() -> bytes:
    """Return about 1 MB of gzip that inflates to 1 GB of zeros (made once per process)."""
    if not _BOMB:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        block = bytes(1 << 20)
        _BOMB.append(b"".join(packer.compress(block) for _ in range(1024)) + packer.flush())
    return _BOMB[0]


def _bomb(handler: BaseHTTPRequestHandler, server: TmeServer) -> None:
    body = gzip_bomb()
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _endless(handler: BaseHTTPRequestHandler, server: TmeServer) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    chunk = b"<div>" + b"x" * 65_000 + b"</div>"
    handler.wfile.write(b"1b\r\n<!DOCTYPE html><html><body>\r\n")
    while True:  # until the client hangs up (a ConnectionError the server keeps quiet about)
        handler.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")


def _drip(handler: BaseHTTPRequestHandler, server: TmeServer) -> None:
    handler.close_connection = True
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n" + b"<" * 100_000
    for byte in answer:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(server.drip_seconds)


def _huge(handler: BaseHTTPRequestHandler, server: TmeServer, status: int = 200) -> None:
    size = 200_000_000
    handler.send_response(status)
    handler.send_header("Content-Type", "text/html; charset=utf-8")
    handler.send_header("Content-Length", str(size))
    handler.end_headers()
    piece = b"<p>" + b"y" * (1_000_000 - 7) + b"</p>"
    for _ in range(size // len(piece)):
        handler.wfile.write(piece)


HOSTILE = {
    "bomb": _bomb,
    "endless": _endless,
    "drip": _drip,
    "huge": _huge,
    "huge_503": lambda handler, server: _huge(handler, server, 503),
}


def page_ids(ids: list[int], query: dict[str, list[str]]) -> list[int]:
    """Return the ids a t.me/s page shows for a query: before=N (< N), after=N (> N), else the newest."""
    ids = sorted(ids)
    if "before" in query:
        limit = int(query["before"][0])
        return [i for i in ids if i < limit][-PAGE:]
    if "after" in query:
        limit = int(query["after"][0])
        return [i for i in ids if i > limit][:PAGE]
    return ids[-PAGE:]


def render_page(channel: FakeChannel, query: dict[str, list[str]], drift: bool = False) -> str:
    """Return the HTML of one t.me/s page of `channel`."""
    ids = page_ids(list(channel.posts), query)
    name, links = channel.name, []
    if ids and min(channel.posts) < ids[0]:
        links.append(f'<link rel="prev" href="/s/{name}?before={ids[0]}">')
    if ids and max(channel.posts) > ids[-1]:
        links.append(f'<link rel="next" href="/s/{name}?after={ids[-1]}">')
    canonical = query.get("before", [str(ids[-1] + 1 if ids else 1)])[0]
    links.append(f'<link rel="canonical" href="/s/{name}?before={canonical}">')
    more = (
        f'<div class="tgme_widget_message_centered js-messages_more_wrap"><a href="/s/{name}?before={ids[0]}" '
        f'class="tme_messages_more js-messages_more" data-before="{ids[0]}"></a></div>'
        if "prev" in links[0]
        else ""
    )
    widgets = "".join(_widget(channel, channel.posts[i], drift) for i in ids)
    title = html.escape(channel.title)
    return f"""<!DOCTYPE html>
<html>
  <head>
    <meta charset="utf-8">
    <title>{title} – Telegram</title>
    <meta property="og:title" content="{title}">
    {chr(10).join(links)}
  </head>
  <body class="widget_frame_base tgme_webpreview emoji_image thin_box_shadow tme_mode no_transitions">
    <header class="tgme_header search_collapsed"><div class="tgme_container"><div class="tgme_header_right_column">
      <section class="tgme_right_column"><div class="tgme_channel_info"><div class="tgme_channel_info_header">
        <div class="tgme_channel_info_header_title_wrap">
          <div class="tgme_channel_info_header_title"><span dir="auto">{title}</span></div>
          <div class="tgme_channel_info_header_labels"></div>
        </div>
        <div class="tgme_channel_info_header_username"><a href="https://t.me/{name}">@{name}</a></div>
      </div></div></section>
    </div></div></header>
<main class="tgme_main" data-url="/{name}">
  <div class="tgme_container">
    <section class="tgme_channel_history js-message_history">
      {more}{widgets}
    </section>
  </div>
</main>
  </body>
</html>
<!-- page generated in 1.00ms -->
"""


def _widget(channel: FakeChannel, post: FakePost, drift: bool) -> str:
    name = channel.name
    view = (
        base64.urlsafe_b64encode(
            json.dumps(
                {"c": -(zlib.crc32(name.lower().encode()) % 10**9), "p": post.id, "t": 1777999520, "h": "0f"}
            ).encode()
        )
        .decode()
        .rstrip("=")
    )
    key = f'data-msg="{name}:{post.id}"' if drift else f'data-post="{name}/{post.id}" data-view="{view}"'
    stamp = (
        f'<span class="time" data-time="{int(post.date.timestamp())}">{post.date:%H:%M}</span>'
        if drift
        else f'<time datetime="{post.date.isoformat()}" class="time">{post.date:%H:%M}</time>'
    )
    forward = ""
    if post.forward:
        fwd = post.forward
        forward = (
            f'<div class="tgme_widget_message_forwarded_from accent_color">Forwarded from&nbsp;'
            f'<a class="tgme_widget_message_forwarded_from_name" href="https://t.me/{fwd["channel"]}/'
            f'{fwd["message_id"]}"><span dir="auto">{html.escape(fwd["title"])}</span></a></div>'
        )
    edited = "edited &nbsp;" if post.edited else ""
    return f"""<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message text_not_supported_wrap js-widget_message" {key}>
  <div class="tgme_widget_message_user"><a href="https://t.me/{name}"><i class="tgme_widget_message_user_photo bgcolor2" data-content="{name[0]}"></i></a></div>
  <div class="tgme_widget_message_bubble">
    <div class="tgme_widget_message_author accent_color"><a class="tgme_widget_message_owner_name" href="https://t.me/{name}"><span dir="auto">{html.escape(channel.title)}</span></a></div>
    {forward}
<div class="tgme_widget_message_text js-message_text" dir="auto">{_text_html(post.text)}</div>
<div class="tgme_widget_message_footer compact js-message_footer">
  <div class="tgme_widget_message_info short js-message_info">
    <span class="tgme_widget_message_views">{_short(post.views)}</span><span class="copyonly"> views</span><span class="tgme_widget_message_meta">{edited}<a class="tgme_widget_message_date" href="https://t.me/{name}/{post.id}">{stamp}</a></span>
  </div>
</div>
  </div>
</div></div>"""


def _text_html(text: str) -> str:
    escaped = html.escape(text, quote=True)

    def tag(m: re.Match[str]) -> str:
        return f'<a href="?q={quote("#" + m.group(1))}">#{m.group(1)}</a>'

    return re.sub(r"#(\w+)", tag, escaped).replace("\n", "<br/>")


def _short(views: int) -> str:
    if views >= 1_000_000:
        return f"{views / 1e6:.1f}M".replace(".0M", "M")
    if views >= 1000:
        return f"{views / 1e3:.1f}K".replace(".0K", "K")
    return str(views)


def _landing(name: str) -> str:
    """The t.me/<name> page a channel without a web preview redirects to: no channel header, no widgets."""
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Telegram: Contact @{name}</title>
<meta property="og:title" content="{name}"></head>
<body class="no_transitions"><div class="tgme_page_wrap"><div class="tgme_page">
<div class="tgme_page_title"><span dir="auto">{name}</span></div>
<div class="tgme_page_extra">If you have <strong>Telegram</strong>, you can contact @{name} right away.</div>
<div class="tgme_page_action"><a class="tgme_action_button_new shine" href="tg://resolve?domain={name}">Send Message</a></div>
</div></div></body></html>
"""
