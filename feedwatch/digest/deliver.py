"""Delivering a digest: to a file, to a webhook, by e-mail.

Targets come only from the configuration (`targets_from_config`), never from
post content. Each `send()` either delivers or raises DeliveryError naming the
target without its secrets (a webhook URL often carries a token, so it is shown
as its host). The caller records success in `feedwatch.digest.state`; a failure
leaves the alerts unsent for the next digest.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import smtplib
import ssl
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from feedwatch.config import Config
from feedwatch.digest.model import Digest, plural
from feedwatch.digest.render_html import render_html
from feedwatch.digest.render_json import render_json
from feedwatch.digest.render_md import render_md
from feedwatch.errors import ConfigError, DeliveryError
from feedwatch.net import BoundExceeded, bounded_transport, parse_retry_after, request

RENDERERS: dict[str, tuple[str, Callable[[Digest], str]]] = {
    "md": (".md", render_md),
    "html": (".html", render_html),
    "json": (".json", render_json),
}
FORMAT_NAMES = {"markdown": "md", "md": "md", "html": "html", "json": "json"}
USER_ENV, PASSWORD_ENV = "FEEDWATCH_SMTP_USER", "FEEDWATCH_SMTP_PASSWORD"


@dataclass(frozen=True)
class FileTarget:
    path: str  # may hold {date}
    formats: tuple[str, ...] = ("md",)

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    def file(self, digest: Digest, fmt: str) -> Path:
        """Return the file for one format: {date} and {time} filled in, the suffix that of the format.

        A dated name already taken (a second digest on the same day) gets the time added rather than
        overwrite the first; a name without {date} is the latest digest, replaced each time.
        """
        name = self.path.replace("{date}", f"{digest.until:%Y-%m-%d}").replace("{time}", f"{digest.until:%H%M}")
        path = Path(name)
        path = path if path.suffix == RENDERERS[fmt][0] else path.with_suffix(RENDERERS[fmt][0])
        if "{date}" in self.path and "{time}" not in self.path and path.exists():
            path = path.with_stem(f"{path.stem}-{digest.until:%H%M%S}")
        return path


@dataclass(frozen=True)
class WebhookTarget:
    url: str
    attempts: int = 4
    backoff: float = 2.0  # first wait in seconds; doubles after each failure
    max_wait: float = 60.0  # cap on one wait, Retry-After included
    timeout: float = 20.0  # on each connect, read and write
    deadline: float = 30.0  # on each request in all, however slowly the receiver answers

    @property
    def name(self) -> str:
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:8]
        return f"webhook:{urlsplit(self.url).hostname}#{digest}"


@dataclass(frozen=True)
class EmailTarget:
    host: str
    port: int
    sender: str
    to: tuple[str, ...]
    starttls: bool = True
    timeout: float = 30.0

    @property
    def name(self) -> str:
        return f"email:{','.join(self.to)}"


Target = FileTarget | WebhookTarget | EmailTarget
# A Config, or its dotted-name settings as a plain mapping (tests).
ConfigLike = Config | Mapping[str, Any]


def targets_from_config(config: ConfigLike) -> list[Target]:
    """Return the delivery targets the configuration sets (none when every one is empty)."""
    values = settings(config)
    targets: list[Target] = []
    if values.get("digest.file.path"):
        formats = tuple(_format(f) for f in values.get("digest.formats") or ["markdown"])
        targets.append(FileTarget(str(values["digest.file.path"]), formats))
    url = values.get("digest.webhook.url")
    if url:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"digest.webhook.url: expected an http(s) URL, got {urlsplit(url).scheme or url!r}")
        targets.append(WebhookTarget(url, deadline=float(values.get("digest.webhook.deadline", 30.0))))
    if values.get("digest.smtp.host"):
        to = tuple(values.get("digest.smtp.to") or ())
        if not to or not values.get("digest.smtp.from"):
            raise ConfigError("digest.smtp: set both `from` and `to` to send digests by e-mail")
        targets.append(
            EmailTarget(
                values["digest.smtp.host"],
                int(values.get("digest.smtp.port", 587)),
                values["digest.smtp.from"],
                to,
                bool(values.get("digest.smtp.starttls", True)),
            )
        )
    return targets


def settings(config: ConfigLike) -> Mapping[str, Any]:
    """Return the dotted-name settings of a Config (or of a plain mapping, in tests)."""
    values: Mapping[str, Any] = config if isinstance(config, Mapping) else config.values
    return values


def _format(name: str) -> str:
    if name not in FORMAT_NAMES:
        raise ConfigError(f"digest.formats: unknown format {name!r}; valid: markdown, html, json")
    return FORMAT_NAMES[name]


def send(
    target: Target,
    digest: Digest,
    *,
    sleep: Callable[[float], None] = time.sleep,
    env: Mapping[str, str] = os.environ,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """Deliver `digest` to `target`; return where it went; raise DeliveryError when it could not."""
    if isinstance(target, FileTarget):
        if not digest.has_news:  # a file a day saying "nothing" buries the ones that matter
            return "nothing new, no digest file written"
        return ", ".join(str(write_file(digest, target.file(digest, fmt), fmt)) for fmt in target.formats)
    if isinstance(target, WebhookTarget):
        return post_webhook(target, digest, sleep=sleep, transport=transport)
    return send_email(target, digest, env=env)


def write_file(digest: Digest, path: Path, fmt: str, *, make_folder: bool = True) -> Path:
    """Write the digest rendered as `fmt` to `path` atomically (a temporary file, then a rename); return it.

    The configured digest folder is made when missing; a path a person typed (`make_folder` false) must name a
    folder that exists, so a typo does not make folders anywhere.
    """
    render = RENDERERS[fmt][1]
    text = render(digest)
    temporary = None
    if not make_folder and not path.parent.is_dir():
        raise DeliveryError(f"digest file {path}: no folder {path.parent} (make it first, or give another --out)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
        ) as tmp:
            temporary = tmp.name
            tmp.write(text)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp.name, 0o644)  # a digest is for reading (the temporary file was 0600)
        os.replace(tmp.name, path)
    except OSError as exc:
        if temporary is not None:  # a full disk: leave no half-written temporary file behind
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise DeliveryError(f"digest file {path}: cannot be written ({exc.strerror or exc})") from None
    return path


def post_webhook(
    target: WebhookTarget,
    digest: Digest,
    *,
    sleep: Callable[[float], None] = time.sleep,
    transport: httpx.BaseTransport | None = None,
) -> str:
    """POST the JSON digest, retrying 5xx, 408, 429 and network errors with capped exponential backoff.

    Each request ends within `target.deadline` (one that does not is not retried); only the answer's
    status and headers are read.
    """
    where = f"webhook {urlsplit(target.url).hostname}"
    body = render_json(digest).encode("utf-8")
    headers = {"content-type": "application/json; charset=utf-8", "user-agent": "feedwatch digest"}
    problem = ""
    with httpx.Client(
        transport=transport or bounded_transport(), timeout=target.timeout, follow_redirects=False
    ) as client:
        for attempt in range(1, target.attempts + 1):
            wait = min(target.backoff * 2 ** (attempt - 1), target.max_wait)
            try:
                response = request(
                    client,
                    "POST",
                    target.url,
                    content=body,
                    headers=headers,
                    max_bytes=0,
                    deadline=target.deadline,
                    read_body=False,
                )
            except BoundExceeded as exc:  # not retried: a receiver this slow would hold delivery for each try
                raise DeliveryError(
                    f"{where}: {exc} (digest.webhook.deadline); the digest is kept for the next try"
                ) from None
            except httpx.HTTPError as exc:
                problem = f"{type(exc).__name__}: {_first_line(exc)}"
            else:
                if 200 <= response.status < 300:
                    return where
                problem = f"HTTP {response.status}"
                if response.status not in (408, 429) and response.status < 500:
                    raise DeliveryError(f"{where} refused the digest ({problem}); it is kept for the next try")
                asked = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
                wait = min(asked if asked is not None else wait, target.max_wait)
            if attempt < target.attempts:
                sleep(wait)
    raise DeliveryError(
        f"{where} failed {plural(target.attempts, 'time')} (last: {problem}); the digest is kept for the next try"
    )


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:200]


def email_message(target: EmailTarget, digest: Digest) -> EmailMessage:
    """Return the multipart (Markdown text + HTML) e-mail of `digest`."""
    message = EmailMessage()
    # The subject holds counts only: nothing from posts reaches a header.
    message["Subject"] = (
        f"feedwatch: {plural(len(digest.new_campaigns), 'new campaign')}, "
        f"{plural(len(digest.spiking), 'spiking tag')} ({digest.until:%Y-%m-%d %H:%M} UTC)"
    )
    message["From"] = target.sender
    message["To"] = ", ".join(target.to)
    message["Date"] = formatdate(digest.generated_at.timestamp())
    message["Message-ID"] = make_msgid(domain="feedwatch.local")
    message.set_content(render_md(digest))
    message.add_alternative(render_html(digest), subtype="html")
    return message


def send_email(target: EmailTarget, digest: Digest, *, env: Mapping[str, str] = os.environ) -> str:
    """Send the digest through the SMTP server; credentials only from the environment."""
    where = f"SMTP server {target.host}:{target.port}"
    user, password = env.get(USER_ENV), env.get(PASSWORD_ENV)
    if bool(user) != bool(password):
        raise DeliveryError(f"set both {USER_ENV} and {PASSWORD_ENV} (or neither) to send digests by e-mail")
    try:
        with smtplib.SMTP(target.host, target.port, timeout=target.timeout) as smtp:
            if target.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if user and password:
                smtp.login(user, password)
            refused = smtp.send_message(email_message(target, digest))
    except smtplib.SMTPNotSupportedError:
        raise DeliveryError(
            f"{where} does not offer STARTTLS; set digest.smtp.starttls = false only for a "
            "trusted local relay. The digest is kept for the next try"
        ) from None
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"{where} refused the login in {USER_ENV} ({exc.smtp_code}); the digest is kept for the next try"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}; the digest is kept for the next try") from None
    if refused:
        raise DeliveryError(f"{where} refused {', '.join(sorted(refused))}; the digest is kept for the next try")
    return f"e-mail to {', '.join(target.to)}"
