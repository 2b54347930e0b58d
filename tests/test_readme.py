"""Every `feedwatch ...` line in a fenced block of README.md runs, against a small store built from seeds/.

A line runs in a shell (pipes and redirections as written), from a scratch folder that sees the project's
seeds/, tests/ and config/, with FEEDWATCH_DB naming the fixture store. It must exit 0 and print something
on stdout (unless it writes a file with `>` or `--out`). Markers in the line's comment change that:
`(network)` skips a line that needs Telegram, `(exit N)` expects exit status N, and `(until stopped)` marks a
server (`feedwatch serve`): it must say where it serves, and is then stopped. A line that names `$TEAM_DB` (the
team store of "Team deployment") runs against a PostgreSQL schema holding the same seeds, or an empty one when it
migrates a store into it; without a PostgreSQL server those lines are skipped as the store suite's are.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
NETWORK = "(network)"
SERVER = "(until stopped)"
EXIT = re.compile(r"\(exit (\d)\)")
# A pasted dump in the old Windows encoding, for the README's `--encoding cp1251` example.
OLD_PASTE = "Forwarded from МИД России\nЗаявление МИД России\n14 мая 2021 года\nТекст заявления. #ООН\n"


def readme_commands() -> list[str]:
    """Return the `feedwatch ...` lines of the README's fenced blocks, in order."""
    lines, fenced = [], False
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        elif fenced and line.strip().startswith("feedwatch "):
            lines.append(line.strip())
    return lines


COMMANDS = readme_commands()


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("readme")
    for name in ("seeds", "tests", "config"):
        (folder / name).symlink_to(ROOT / name, target_is_directory=True)
    (folder / "old_paste.txt").write_bytes(OLD_PASTE.encode("cp1251"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDWATCH_")}
    env |= {
        "FEEDWATCH_DB": str(folder / "fixture.db"),
        "FEEDWATCH_TME_BASE_URL": "http://127.0.0.1:9",  # an unmarked line that polls stays on this machine
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    }
    built = subprocess.run(
        ["feedwatch", "ingest", "seeds/"], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )
    assert built.returncode == 0, built.stderr
    return folder, env


def test_the_readme_has_examples_and_marks_those_that_need_the_network() -> None:
    assert len(COMMANDS) >= 20
    assert any(NETWORK in line for line in COMMANDS)
    assert {line.split()[1] for line in COMMANDS} >= {"parse", "ingest", "search", "export", "campaigns", "digest"}


@pytest.fixture(scope="module")
def team_db(postgres_server: str, scratch: tuple[Path, dict[str, str]]):  # type: ignore[no-untyped-def]
    """A PostgreSQL schema with the seeds stored, for the README's `$TEAM_DB` lines; dropped after the module."""
    import uuid

    import psycopg
    from conftest import url_with_schema

    folder, env = scratch
    schema = f"fwreadme_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = url_with_schema(postgres_server, schema)
    try:
        built = subprocess.run(
            ["feedwatch", "ingest", "seeds/", "--db", url], cwd=folder, env=env, capture_output=True, text=True
        )
        assert built.returncode == 0, built.stderr
        yield url
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.mark.parametrize("line", COMMANDS)
def test_readme_example_runs_as_documented(
    scratch: tuple[Path, dict[str, str]], line: str, request: pytest.FixtureRequest
) -> None:
    if NETWORK in line:
        pytest.skip("needs the network")
    folder, env = scratch
    if "$TEAM_DB" in line:
        moving_in = "migrate-store" in line and '--to "$TEAM_DB"' in line
        env = {**env, "TEAM_DB": request.getfixturevalue("postgres_url" if moving_in else "team_db")}
        (folder / "data").mkdir(exist_ok=True)
        if not (folder / "data" / "feedwatch.db").exists():
            (folder / "data" / "feedwatch.db").write_bytes((folder / "fixture.db").read_bytes())
    if SERVER in line:
        _serves(line, folder, env)
        return
    expected = EXIT.search(line)
    done = subprocess.run(["bash", "-c", line], cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == (int(expected[1]) if expected else 0), done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    writes_a_file = ">" in line.split("#")[0] or "--out" in line
    if not writes_a_file and not expected:
        assert done.stdout.strip(), f"{line!r} printed nothing on stdout ({done.stderr.strip()})"


def _serves(line: str, folder: Path, env: dict[str, str]) -> None:
    """Start a server line, wait for the line that says where it serves, then stop it."""
    import signal
    import time

    (folder / "data").mkdir(exist_ok=True)
    if not (folder / "data" / "feedwatch.db").exists():
        (folder / "data" / "feedwatch.db").write_bytes((folder / "fixture.db").read_bytes())
    server = subprocess.Popen(
        ["bash", "-c", f"exec {line.split('#')[0]}"],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        said = ""
        assert server.stderr is not None
        while time.monotonic() < deadline and "Serving" not in said:
            said += server.stderr.readline()
            if server.poll() is not None:
                said += server.stderr.read()
                break
        assert "Serving" in said and server.poll() is None, said
        assert "Traceback" not in said
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stderr.close()
