"""What every ``taizhang`` subcommand shares: the data-dir option and one way to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from taizhang.settings import Settings

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Where the SQLite file and keys live [env TAIZHANG_DATA_DIR]."),
]


def settings_for(data_dir: Path | None, **overrides: object) -> Settings:
    """Settings from the environment, with command-line options on top."""
    return Settings.from_env(data_dir=data_dir, **overrides)


def fail(message: str, code: int = 1) -> NoReturn:
    """One line on stderr and a non-zero exit; never a traceback, never a secret."""
    typer.echo(f"taizhang: {message}", err=True)
    raise typer.Exit(code)
