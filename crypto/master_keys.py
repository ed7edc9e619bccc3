"""Master keys: the keys that wrap every subject's data key (envelope encryption).

A master key is an AES-256-GCM key held in the key file's ``master`` section
(the same shape as the store keyring: ``{"current": id, "keys": [...]}``) or,
for deployments that keep secrets outside files, given as base64 in
``TAIZHANG_MASTER_KEY``. Its id is part of every wrapped key's associated data,
so a data key wrapped by one master key never unwraps under another.

Rotation (``taizhang keys rotate-master``) adds a key, re-wraps every data key
under it, then drops the old keys: every older copy of the key table (a backup,
an archived WAL segment) is then useless once the old key is gone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from crypto.keyring import AES_256_GCM, Keyring, StoreKey, new_store_key
from domain.errors import ConfigurationError

MASTER_KEY_ENV = "TAIZHANG_MASTER_KEY"
ENV_MASTER_ID = "env-master"


def new_master_keyring() -> Keyring:
    """A keyring of one fresh master key."""
    key = _new_master_key()
    return Keyring((key,), key.key_id)


def with_new_master(keyring: Keyring) -> Keyring:
    """``keyring`` plus a fresh master key, made current; the old keys stay (for re-wrapping)."""
    key = _new_master_key()
    return Keyring((*keyring.keys, key), key.key_id)


def only_current(keyring: Keyring) -> Keyring:
    """The keyring without its non-current keys (the last step of a rotation)."""
    return Keyring((keyring.current,), keyring.current_id)


def parse_master_keyring(data: Any, source: str) -> Keyring:
    """The ``master`` section of a key file, checked: AES-256-GCM keys only."""
    if data is None:
        raise ConfigurationError(
            f"{source} has no master key (it wraps the subjects' data keys): run "
            "`taizhang keys rotate-master` to create one, or set TAIZHANG_MASTER_KEY"
        )
    if isinstance(data, dict) and isinstance(data.get("keys"), list):
        ids = {str(item.get("id")) for item in data["keys"] if isinstance(item, dict)}
        if data.get("current") not in ids:
            raise ConfigurationError(f"{source}: the current master key is not in the list")
    keyring = Keyring.from_dict(data, f"{source} (master keys)")
    for key in keyring.keys:
        if key.algorithm != AES_256_GCM:
            raise ConfigurationError(
                f"{source}: master key {key.key_id} must be {AES_256_GCM}, not {key.algorithm}"
            )
    return keyring


def master_keyring_from_env(secret_b64: str) -> Keyring:
    """The one master key given in the environment (base64 of 32 bytes)."""
    keyring = Keyring.single(secret_b64, MASTER_KEY_ENV)
    key = dataclasses.replace(keyring.current, key_id=ENV_MASTER_ID)
    return Keyring((key,), key.key_id)


def _new_master_key() -> StoreKey:
    key = new_store_key(AES_256_GCM)
    return dataclasses.replace(key, key_id="m" + key.key_id[1:])
