"""The key file: where ``taizhang init`` puts the deployment's secrets.

JSON, mode 0600, beside the data. A key file readable by group or others is
refused, as is a missing or malformed one: the service must not start on keys
it cannot trust. Messages name the file and the problem, never a key.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import orjson

from crypto.keyring import Keyring, new_keyring
from crypto.master_keys import new_master_keyring, parse_master_keyring
from domain.errors import ConfigurationError

FORMAT = "taizhang-keys/1"
STORE_SECTION = "store"
MASTER_SECTION = "master"  # the master keys that wrap the subjects' data keys


def create_key_file(
    path: Path, algorithm: str | None = None, *, store: bool = True, master: bool = True
) -> Keyring | None:
    """Write a new key file with a fresh store keyring and master key; refuse to overwrite one.

    ``store=False`` (the store key comes from the environment) or ``master=False``
    (the master key does) leaves that section out. Returns the store keyring.
    """
    if path.exists():
        raise ConfigurationError(f"{path} already exists; refusing to overwrite keys")
    data: dict[str, Any] = {"format": FORMAT}
    keyring = None
    if store:
        keyring = new_keyring(algorithm) if algorithm else new_keyring()
        data["store"] = keyring.to_dict()
    if master:
        data[MASTER_SECTION] = new_master_keyring().to_dict()
    write_key_file(path, data, create=True)
    return keyring


def write_key_file(path: Path, data: dict[str, Any], *, create: bool = False) -> None:
    """Write atomically with mode 0600 (a temporary file renamed over the old one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps(data, option=orjson.OPT_INDENT_2))
        handle.flush()
        os.fsync(handle.fileno())
    if create and path.exists():
        tmp.unlink()
        raise ConfigurationError(f"{path} already exists; refusing to overwrite keys")
    os.replace(tmp, path)


def read_key_file(path: Path) -> dict[str, Any]:
    """The parsed key file, after checking that it exists and is private."""
    if not path.exists():
        raise ConfigurationError(
            f"no key file at {path}: run `taizhang init --data-dir {path.parent}` first,"
            " or set TAIZHANG_STORE_KEY"
        )
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError:
        raise ConfigurationError(f"{path} is not valid JSON") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigurationError(f"{path} is not a taizhang key file ({FORMAT})")
    return data


def load_store_keyring(path: Path) -> Keyring:
    return Keyring.from_dict(read_key_file(path).get(STORE_SECTION), str(path))


def load_master_keyring(path: Path) -> Keyring:
    """The master keys of the key file; a file without them is refused with a clear message."""
    return parse_master_keyring(read_key_file(path).get(MASTER_SECTION), str(path))


def replace_section(path: Path, section: str, keyring: Keyring) -> None:
    """Rewrite one section (``store`` or ``master``) of the key file, atomically, mode 0600."""
    data = read_key_file(path)
    data[section] = keyring.to_dict()
    write_key_file(path, data)
