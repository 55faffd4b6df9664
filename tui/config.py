"""The user's TUI settings: ``~/.config/dockyard/config.toml``.

::

    refresh_interval = 2.0        # seconds between full refreshes (events
                                  # still arrive within half a second)
    theme = "textual-dark"        # any Textual theme name

    [keys]                        # binding id = key(s), comma-separated
    "image.delete" = "x"
    "pane.images" = "2,f2"

The file is optional.  Anything wrong in it is reported as a warning and
the default is kept, so a typo never stops the TUI from starting.  The
path is ``$DOCKYARD_CONFIG``, else ``$XDG_CONFIG_HOME/dockyard/config.toml``,
else ``~/.config/dockyard/config.toml``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Config", "config_path", "load_config"]

DEFAULT_REFRESH = 2.0
MIN_REFRESH = 0.2


@dataclass(frozen=True)
class Config:
    keys: dict[str, str] = field(default_factory=dict)  # binding id -> key string
    refresh_interval: float = DEFAULT_REFRESH
    theme: str | None = None
    path: str | None = None  # where it was read from, None for defaults
    warnings: tuple[str, ...] = ()


def config_path() -> Path:
    if env := os.environ.get("DOCKYARD_CONFIG"):
        return Path(env)
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(Path.home(), ".config")
    return Path(base) / "dockyard" / "config.toml"


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read the config file; a missing file gives the defaults."""
    p = Path(path) if path is not None else config_path()
    try:
        with open(p, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        return Config()
    except (OSError, tomllib.TOMLDecodeError) as e:
        return Config(path=str(p), warnings=(f"{p}: ignored: {e}",))
    return parse_config(raw, str(p))


def parse_config(raw: dict, path: str | None = None) -> Config:
    warnings: list[str] = []
    where = f"{path}: " if path else ""

    keys: dict[str, str] = {}
    table = raw.get("keys", {})
    if not isinstance(table, dict):
        warnings.append(f"{where}[keys] must be a table")
        table = {}
    for binding_id, key in table.items():
        if isinstance(key, list) and all(isinstance(k, str) for k in key):
            key = ",".join(key)
        if not isinstance(key, str) or not key.strip():
            warnings.append(f"{where}keys.{binding_id}: expected a key string")
            continue
        keys[str(binding_id)] = ",".join(k.strip() for k in key.split(",") if k.strip())

    interval = raw.get("refresh_interval", DEFAULT_REFRESH)
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        warnings.append(f"{where}refresh_interval: expected seconds as a number")
        interval = DEFAULT_REFRESH
    elif interval < MIN_REFRESH:
        warnings.append(f"{where}refresh_interval: {interval} is below {MIN_REFRESH}s; "
                        f"using {MIN_REFRESH}")
        interval = MIN_REFRESH

    theme = raw.get("theme")
    if theme is not None and not isinstance(theme, str):
        warnings.append(f"{where}theme: expected a theme name")
        theme = None

    known = {"keys", "refresh_interval", "theme"}
    warnings.extend(f"{where}unknown setting {k!r}" for k in raw if k not in known)
    return Config(keys=keys, refresh_interval=float(interval), theme=theme, path=path,
                  warnings=tuple(warnings))
