"""One settings object, read once at start.

Sources, later ones winning: defaults, the process environment
(``TAIZHANG_*``), then explicit command-line options. Nothing else reads the
environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from domain.errors import ConfigurationError

DEFAULT_DATA_DIR = Path("var")


@dataclass(frozen=True)
class Settings:
    """Where the data lives, which store, and where the service listens."""

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    store_key: str | None = None  # base64 AES-256 key from the environment, instead of a file
    signing_key: str | None = None  # base64 Ed25519 secret from the environment, instead of a file
    master_key: str | None = None  # base64 AES-256 master key from the environment
    host: str = "127.0.0.1"
    port: int = 8000
    seal_interval_events: int = 1000
    seal_interval_seconds: float = 5.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls(
            data_dir=Path(env.get("TAIZHANG_DATA_DIR") or DEFAULT_DATA_DIR),
            database_url=env.get("TAIZHANG_DATABASE_URL") or None,
            store_key=env.get("TAIZHANG_STORE_KEY") or None,
            signing_key=env.get("TAIZHANG_SIGNING_KEY") or None,
            master_key=env.get("TAIZHANG_MASTER_KEY") or None,
            host=env.get("TAIZHANG_HOST") or "127.0.0.1",
            port=_int(env.get("TAIZHANG_PORT"), 8000, "TAIZHANG_PORT"),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        if "data_dir" in given:
            given["data_dir"] = Path(str(given["data_dir"]))
        return replace(settings, **given)  # type: ignore[arg-type]

    @property
    def key_file(self) -> Path:
        return self.data_dir / "keys.json"

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "taizhang.db"

    @property
    def calendar_dir(self) -> Path:
        return self.data_dir / "calendar"

    @property
    def store(self) -> str:
        return "postgresql" if self.database_url else "sqlite"

    def describe_database(self) -> str:
        """The database in use, without any password."""
        if not self.database_url:
            return str(self.sqlite_path)
        parts = postgres_parts(self.database_url)
        return (
            f"postgresql://{parts['POSTGRES_USER']}@{parts['POSTGRES_HOST']}:"
            f"{parts['POSTGRES_PORT']}/{parts['POSTGRES_DBNAME']}"
            + (f"?schema={parts['POSTGRES_SCHEMA']}" if parts.get("POSTGRES_SCHEMA") else "")
        )


def _int(value: str | None, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigurationError(f"{name} must be an integer") from None


def postgres_parts(url: str) -> dict[str, str]:
    """Translate ``postgresql://user:pw@host:port/db?schema=s`` into eventsourcing settings."""
    split = urlsplit(url)
    if split.scheme not in ("postgresql", "postgres"):
        raise ConfigurationError("TAIZHANG_DATABASE_URL must start with postgresql://")
    if not split.path.strip("/"):
        raise ConfigurationError("TAIZHANG_DATABASE_URL must name a database")
    query = parse_qs(split.query)
    parts = {
        "POSTGRES_DBNAME": unquote(split.path.strip("/")),
        "POSTGRES_HOST": split.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(split.port or 5432),
        "POSTGRES_USER": unquote(split.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(split.password or ""),
    }
    if "schema" in query:
        parts["POSTGRES_SCHEMA"] = query["schema"][0]
    return parts
