"""Adding channels to a config file without losing a word of it (tomlkit keeps comments and layout)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from feedwatch.config import load_config, valid_username
from feedwatch.errors import ConfigError


def add_channels(path: Path, names: Iterable[str], source: str = "web") -> tuple[list[str], list[str]]:
    """Append a [[channels]] table for each new name to the TOML file at `path`; return (added, already there).

    The file is checked before and after: it must load as a feedwatch config, so a
    bad name or a broken file is refused with one line and the file is left as it was.
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    wanted = [valid_username(name) for name in names]
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        document = tomlkit.parse(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read ({exc})") from None
    except TOMLKitError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    if text:
        load_config(path)  # refuse to add to a config feedwatch would not read
    tables = document.get("channels")
    if tables is None:
        tables = tomlkit.aot()
        document.append("channels", tables)
    elif not isinstance(tables, tomlkit.items.AoT):
        raise ConfigError(f"{path}: channels must be a list of [[channels]] tables")
    present = {str(t.get("name", "")).lower() for t in tables}
    added, already = [], []
    for name in wanted:
        if name.lower() in present:
            already.append(name)
            continue
        table = tomlkit.table()
        table.add("name", name)
        table.add("source", source)
        tables.append(table)
        present.add(name.lower())
        added.append(name)
    if added:
        new_text = tomlkit.dumps(document)
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            tmp.write_text(new_text, encoding="utf-8")
            load_config(tmp)
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise ConfigError(f"{path}: cannot be written ({exc.strerror})") from None
        except ConfigError:
            tmp.unlink(missing_ok=True)
            raise
    return added, already
