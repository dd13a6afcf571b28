"""
Configuration: defaults in one place, a TOML loader, and the database URL rule.

The database URL comes from, in order: C{--db}, C{$DIALER_DB}, the config file's
C{[database] url}, then the default SQLite file under C{var/}.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from dialer.errors import ConfigError

DEFAULT_DB_URL = "sqlite:///var/dialer.db"
DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_AREA_CODE = "0778"  # Hechi, the demo city
#: the keys of the config file's [database] table
DATABASE_KEYS = frozenset({"url"})


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML config file; errors name the file and the line."""
    p = Path(path)
    try:
        with p.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found / 找不到配置文件") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML: {e} / 配置文件格式错误") from None


def database_url(cli_value: str | None = None, config_path: str | None = None) -> str:
    if cli_value:
        return cli_value
    env = os.environ.get("DIALER_DB")
    if env:
        return env
    if config_path:
        section = load_toml(config_path).get("database", {})
        if not isinstance(section, dict):
            raise ConfigError(f"{config_path}: [database]: expected a table / 应为表")
        unknown = sorted(set(section) - DATABASE_KEYS)
        if unknown:
            raise ConfigError(
                f"{config_path}: [database].{unknown[0]}: unknown key "
                f"(known: {', '.join(sorted(DATABASE_KEYS))}) / 未知配置项"
            )
        url = section.get("url")
        if url is not None:
            if not isinstance(url, str) or not url.strip():
                raise ConfigError(
                    f"{config_path}: [database].url: expected a non-empty string, got {url!r}"
                    " / 数据库地址应为字符串"
                )
            return url
    return DEFAULT_DB_URL
