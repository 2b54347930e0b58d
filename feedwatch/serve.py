"""`feedwatch serve`: Datasette over the store, read-only, made for this data.

What the pages say and show (descriptions, canned queries, charts, how cells
render) is in feedwatch.browse; this module wires it into Datasette. The store
is opened once with `Store.open` (checks, migrations), then only through
read-only connections (`mode=ro` plus `PRAGMA query_only`): the poller and
ingest keep writing while pages read, and nothing a page does can write, since
Datasette's write connection is refused outright.

Serving to anything but loopback needs a password (FEEDWATCH_SERVE_PASSWORD):
every request must then carry it, by HTTP Basic auth (any user name) or as a
bearer token.
"""

from __future__ import annotations

import base64
import hmac
import ipaddress
import re
import sqlite3
import statistics
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import markupsafe
from datasette import hookimpl
from datasette.app import Datasette
from datasette.database import Database, QueryInterrupted
from datasette.plugins import pm
from datasette.utils.asgi import Response

from feedwatch import browse
from feedwatch.campaigns.identity import tag_identity
from feedwatch.errors import ConfigError, StoreError
from feedwatch.store import Store

PASSWORD_ENV = "FEEDWATCH_SERVE_PASSWORD"
SETTINGS = {
    "sql_time_limit_ms": 30000,  # the channels page reads every post: about 12 s at a million posts
    "suggest_facets": False,  # suggestions run a query per column: slow on a big store
    "allow_download": False,
    "default_page_size": 50,
}
CSS = """
mark{background:#ffe08a;padding:0 .1em}
pre.fw-json{white-space:pre-wrap;max-height:24em;overflow:auto;margin:0;font-size:.85em}
figure.fw-chart{margin:1em 0;max-width:48em}figure.fw-chart svg{width:100%;height:auto;background:#fff}
"""
Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def is_loopback(host: str) -> bool:
    """Return True when `host` only accepts connections from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, password: str | None) -> None:
    """Raise ConfigError when `host` would serve the store to other machines without a password."""
    if not is_loopback(host) and not password:
        raise ConfigError(
            f"--host {host} serves to other machines, which needs a password: set {PASSWORD_ENV} "
            "(clients log in with any user name and it), or serve on 127.0.0.1"
        )


class ReadOnlyDatabase(Database):  # type: ignore[misc]
    """A Datasette database that only ever opens read-only connections to the store."""

    def connect(self, write: bool = False) -> sqlite3.Connection:
        if write:
            raise StoreError(f"{self.path}: feedwatch serve never writes to the store")
        conn: sqlite3.Connection = super().connect(write=False)
        conn.execute("PRAGMA query_only = 1")
        return conn


class _Median:
    """SQLite aggregate fw_median(x): the median of the non-null values."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: Any) -> None:
        if isinstance(value, int | float):
            self.values.append(value)

    def finalize(self) -> float | None:
        return statistics.median(self.values) if self.values else None


def register_functions(conn: sqlite3.Connection) -> None:
    """Add the SQL functions the canned queries use: fw_tag_identity(tag) and fw_median(x)."""
    conn.create_function(
        "fw_tag_identity", 1, lambda t: tag_identity(t) if isinstance(t, str) else None, deterministic=True
    )
    conn.create_aggregate("fw_median", 1, _Median)  # type: ignore[arg-type]


def _authorized(scope: Scope, password: str) -> bool:
    header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
    scheme, _, credentials = header.partition(" ")
    given = ""
    if scheme.lower() == "bearer":
        given = credentials.strip()
    elif scheme.lower() == "basic":
        try:
            given = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")[2]
        except ValueError:
            return False
    return hmac.compare_digest(given.encode("utf-8"), password.encode("utf-8"))


def password_guard(app: ASGIApp, password: str) -> ASGIApp:
    """Wrap an ASGI app so that every HTTP request must carry `password` (Basic auth or bearer token)."""

    async def guarded(
        scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
    ) -> None:
        if scope["type"] == "http" and not _authorized(scope, password):
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"text/plain; charset=utf-8"),
                        (b"www-authenticate", b'Basic realm="feedwatch", charset="UTF-8"'),
                    ],
                }
            )
            await send(
                {"type": "http.response.body", "body": b"Log in with any user name and the feedwatch serve password.\n"}
            )
            return
        await app(scope, receive, send)

    return guarded


async def _css() -> Response:
    return Response(CSS, content_type="text/css; charset=utf-8")


class Plugin:
    """feedwatch's Datasette hooks: SQL functions, cell rendering, charts, the stylesheet, the password.

    Datasette takes a plugin's templates from the package its `__name__` names: feedwatch/templates.
    """

    __name__ = "feedwatch"

    def __init__(self, password: str | None):
        self.password = password

    @hookimpl  # type: ignore[untyped-decorator]
    def prepare_connection(self, conn: sqlite3.Connection, database: str) -> None:
        if database == browse.DATABASE:
            register_functions(conn)

    @hookimpl  # type: ignore[untyped-decorator]
    def render_cell(
        self, value: Any, column: str, table: str | None, database: str, datasette: Datasette
    ) -> markupsafe.Markup | None:
        if database != browse.DATABASE:
            return None
        shown = browse.render_cell(value, column, table, datasette.urls.path("/"))
        return None if shown is None else markupsafe.Markup(shown)

    @hookimpl  # type: ignore[untyped-decorator]
    def extra_template_vars(
        self, request: Any, database: str | None, datasette: Datasette
    ) -> Callable[[], Awaitable[dict[str, Any]]]:
        async def chart() -> dict[str, Any]:
            return {"feedwatch_chart": await _chart(datasette, request, database)}

        return chart

    @hookimpl  # type: ignore[untyped-decorator]
    def register_routes(self) -> list[tuple[str, Callable[[], Awaitable[Response]]]]:
        return [(r"^/-/feedwatch\.css$", _css)]

    @hookimpl  # type: ignore[untyped-decorator]
    def asgi_wrapper(self) -> Callable[[ASGIApp], ASGIApp] | None:
        password = self.password
        if not password:
            return None
        return lambda app: password_guard(app, password)


async def _chart(datasette: Datasette, request: Any, database: str | None) -> markupsafe.Markup | None:
    """Return the charts of a canned query page that has some (browse.CHARTS), drawn from query rows."""
    if request is None or database != browse.DATABASE:
        return None
    name = request.path.rstrip("/").rsplit("/", 1)[-1]
    drawn = []
    for spec in browse.CHARTS.get(name, ()):
        sql = browse.QUERIES[spec.query]["sql"]
        params = {p: request.args.get(p, "") for p in set(re.findall(r":(\w+)", sql))}
        if not any(params.values()):
            continue
        try:
            results = await datasette.get_database(browse.DATABASE).execute(sql, params)
        except (sqlite3.Error, QueryInterrupted):
            continue
        points = browse.chart_points([dict(row) for row in results.rows], spec.x, spec.y)
        if points:
            drawn.append(browse.bar_chart_svg(points, spec.what))
    return markupsafe.Markup("".join(drawn)) if drawn else None


def register(plugin: Plugin) -> None:
    """Make `plugin` Datasette's feedwatch plugin (replacing an earlier one in this process)."""
    if pm.get_plugin("feedwatch") is not None:
        pm.unregister(name="feedwatch")
    pm.register(plugin, name="feedwatch")


def build(path: str | Path, password: str | None = None) -> Datasette:
    """Return a Datasette app over the store at `path`; StoreError when it is not a feedwatch store."""
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"{path}: no database there yet. Store posts first: feedwatch ingest PATH --db {path}")
    with Store.open(path, writing=False) as store:
        tables = store.db.table_names()
    register(Plugin(password))
    metadata = browse.metadata(tables)
    metadata["extra_css_urls"] = ["/-/feedwatch.css"]
    ds = Datasette(metadata=metadata, settings=SETTINGS)
    ds.remove_database("_memory")
    ds.add_database(ReadOnlyDatabase(ds, path=str(path), is_mutable=True), name=browse.DATABASE)
    return ds


def serve(
    path: str | Path, host: str, port: int, password: str | None, ready: Callable[[str], None] | None = None
) -> None:
    """Serve the store at `path` until interrupted; ConfigError when the host needs a password."""
    import uvicorn

    check_exposure(host, password)
    ds = build(path, password)
    if ready:
        shown = f"[{host}]" if ":" in host else host
        ready(f"http://{shown}:{port}/{browse.DATABASE}")
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
