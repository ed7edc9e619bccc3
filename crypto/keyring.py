"""Store keys: which key encrypts new events, and which keys can read old ones.

Every ciphertext names the key that made it (see :mod:`crypto.store_cipher`), so
a rotation adds a key and makes it current while older events stay readable.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from domain.errors import ConfigurationError

AES_256_GCM = "AES-256-GCM"
SM4_GCM = "SM4-GCM"
KEY_SIZES = {AES_256_GCM: 32, SM4_GCM: 16}


@dataclass(frozen=True, repr=False)
class StoreKey:
    """One symmetric key; ``repr`` never shows the secret."""

    key_id: str
    algorithm: str
    secret: bytes
    created_at: str

    def __repr__(self) -> str:
        return f"StoreKey({self.key_id!r}, {self.algorithm}, created {self.created_at})"

    def public_dict(self) -> dict[str, str]:
        return {"id": self.key_id, "algorithm": self.algorithm, "created_at": self.created_at}


@dataclass(frozen=True)
class Keyring:
    """The store keys of one deployment and the id of the current one."""

    keys: tuple[StoreKey, ...]
    current_id: str

    @property
    def current(self) -> StoreKey:
        return self.get(self.current_id)

    def get(self, key_id: str) -> StoreKey:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise ConfigurationError(f"the keyring has no store key with id {key_id!r}")

    def rotated(self, algorithm: str | None = None) -> Keyring:
        """A keyring with a fresh current key; the old keys stay for reading."""
        key = new_store_key(algorithm or self.current.algorithm)
        return Keyring((*self.keys, key), key.key_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "current": self.current_id,
            "keys": [
                {**k.public_dict(), "secret": base64.b64encode(k.secret).decode("ascii")}
                for k in self.keys
            ],
        }

    def to_json(self) -> str:
        return orjson.dumps(self.to_dict()).decode("ascii")

    @classmethod
    def from_dict(cls, data: Any, source: str) -> Keyring:
        """Parse a keyring, checking every key's algorithm and size."""
        try:
            current = data["current"]
            keys = tuple(_parse_key(item, source) for item in data["keys"])
        except (KeyError, TypeError) as exc:
            raise ConfigurationError(f"{source}: the store keyring is malformed ({exc})") from None
        if not keys:
            raise ConfigurationError(f"{source}: the store keyring has no keys")
        ids = [k.key_id for k in keys]
        if len(set(ids)) != len(ids):
            raise ConfigurationError(f"{source}: two store keys share an id")
        keyring = cls(keys, current)
        keyring.get(current)
        return keyring

    @classmethod
    def from_json(cls, text: str, source: str) -> Keyring:
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ConfigurationError(f"{source}: the store keyring is not valid JSON") from None
        return cls.from_dict(data, source)

    @classmethod
    def single(cls, secret_b64: str, source: str) -> Keyring:
        """A keyring of one AES-256 key given as base64 (for example from the environment)."""
        secret = _decode_secret(secret_b64, source)
        key = StoreKey("env-1", AES_256_GCM, secret, "1970-01-01T00:00:00+00:00")
        _check_size(key, source)
        return cls((key,), key.key_id)


def new_store_key(algorithm: str = AES_256_GCM) -> StoreKey:
    """A fresh random key with a time-ordered, unique id."""
    if algorithm not in KEY_SIZES:
        raise ConfigurationError(
            f"unknown store cipher {algorithm!r}; choose one of {', '.join(KEY_SIZES)}"
        )
    now = datetime.now(UTC)
    key_id = f"k{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
    return StoreKey(key_id, algorithm, os.urandom(KEY_SIZES[algorithm]), now.isoformat())


def new_keyring(algorithm: str = AES_256_GCM) -> Keyring:
    key = new_store_key(algorithm)
    return Keyring((key,), key.key_id)


def _decode_secret(value: str, source: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ConfigurationError(f"{source}: the key is not valid base64") from None


def _check_size(key: StoreKey, source: str) -> None:
    want = KEY_SIZES.get(key.algorithm)
    if want is None:
        raise ConfigurationError(f"{source}: key {key.key_id} has unknown algorithm")
    if len(key.secret) != want:
        raise ConfigurationError(
            f"{source}: key {key.key_id} must be {want} bytes for {key.algorithm},"
            f" not {len(key.secret)}"
        )


def _parse_key(item: Any, source: str) -> StoreKey:
    key = StoreKey(
        key_id=str(item["id"]),
        algorithm=str(item["algorithm"]),
        secret=_decode_secret(str(item["secret"]), source),
        created_at=str(item["created_at"]),
    )
    _check_size(key, source)
    return key
