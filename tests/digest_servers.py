"""Real local receivers for delivery tests: an SMTP server (aiosmtpd) and an HTTP server, on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Mailbox:
    messages: list[Any] = field(default_factory=list)  # aiosmtpd envelopes
    logins: list[tuple[str, str]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            self.logins.append((data.login.decode(), data.password.decode()))
            return AuthResult(success=data.password == b"s3cret", handled=False)
        return AuthResult(success=False, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def smtp_server(auth: bool = False) -> Iterator[tuple[Mailbox, int]]:
    """Run an SMTP server on 127.0.0.1 (AUTH over plain text only when `auth`: a local test server)."""
    box = Mailbox()
    extra: dict[str, Any] = {"authenticator": box.authenticate, "auth_require_tls": False} if auth else {}
    controller = Controller(box, hostname="127.0.0.1", port=free_port(), **extra)
    controller.start()
    try:
        yield box, controller.port
    finally:
        controller.stop()


@dataclass
class Receiver:
    """A webhook receiver that answers each POST with the next scripted status (then 200).

    Hostile ones: `huge` answers with a 1.2 GB body; `drip` sends its answer a byte every `drip` seconds.
    """

    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    bodies: list[Any] = field(default_factory=list)
    attempts: int = 0
    huge: bool = False
    drip: float = 0.0


@contextmanager
def http_receiver(receiver: Receiver) -> Iterator[str]:
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                receiver.attempts += 1
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(json.loads(body))
            try:
                self._answer(status)
            except ConnectionError:
                self.close_connection = True  # the client went away: expected of a hostile answer

        def _answer(self, status: int) -> None:
            if receiver.drip:
                self.close_connection = True
                for byte in f"HTTP/1.1 {status} OK\r\ncontent-length: 0\r\n\r\n".encode():
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(receiver.drip)
                return
            if receiver.huge:
                self.send_response(status)
                self.send_header("content-length", str(1_200_000_000))
                self.end_headers()
                piece = b"z" * 1_000_000
                for _ in range(1200):
                    self.wfile.write(piece)
                return
            self.send_response(status)
            for name, value in receiver.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook?token=abc"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
