"""Signed tree heads: Ed25519 over a fixed, documented encoding.

Signed bytes (``docs/audit-bundle.md``)::

    b"taizhang-tree-head/1\\n" || u64 tree_size || root_hash (32 bytes)
    || u64 timestamp (milliseconds since 1970, UTC) || u8 len(key_id) || key_id (ASCII)

The key id is signed too, so a head cannot be passed off under another key.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from domain.errors import ConfigurationError, TaizhangError

HEAD_LABEL = b"taizhang-tree-head/1\n"
_NUMBERS = struct.Struct(">Q32sQ")


class SignatureInvalidError(TaizhangError):
    """A tree head's signature does not verify under the named public key."""

    code = "signature_invalid"

    def __init__(self, tree_size: int, key_id: str) -> None:
        super().__init__(
            f"the signature of the tree head at size {tree_size} (key {key_id}) is invalid"
        )
        self.tree_size = tree_size
        self.key_id = key_id


@dataclass(frozen=True)
class TreeHead:
    """A signed statement: the log had ``tree_size`` events with this root at this time."""

    tree_size: int
    root_hash: bytes
    timestamp_ms: int
    key_id: str
    signature: bytes

    def signed_bytes(self) -> bytes:
        return head_bytes(self.tree_size, self.root_hash, self.timestamp_ms, self.key_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tree_size": self.tree_size,
            "root_hash": self.root_hash.hex(),
            "timestamp": datetime.fromtimestamp(self.timestamp_ms / 1000, UTC).isoformat(),
            "timestamp_ms": self.timestamp_ms,
            "key_id": self.key_id,
            "signature": base64.b64encode(self.signature).decode("ascii"),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeHead:
        return cls(
            tree_size=int(data["tree_size"]),
            root_hash=bytes.fromhex(data["root_hash"]),
            timestamp_ms=int(data["timestamp_ms"]),
            key_id=str(data["key_id"]),
            signature=base64.b64decode(data["signature"]),
        )


def head_bytes(tree_size: int, root_hash: bytes, timestamp_ms: int, key_id: str) -> bytes:
    ident = key_id.encode("ascii")
    return (
        HEAD_LABEL + _NUMBERS.pack(tree_size, root_hash, timestamp_ms) + bytes([len(ident)]) + ident
    )


def public_key_id(public_raw: bytes) -> str:
    """A key id that names the public key itself: ``ed25519:`` + 16 hex of its SHA-256."""
    return "ed25519:" + hashlib.sha256(public_raw).hexdigest()[:16]


class HeadSigner:
    """Holds the Ed25519 private key; signs tree heads."""

    def __init__(self, private_raw: bytes) -> None:
        if len(private_raw) != 32:
            raise ConfigurationError("the tree-head signing key must be 32 bytes (Ed25519)")
        self._key = Ed25519PrivateKey.from_private_bytes(private_raw)
        self.public_raw = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.key_id = public_key_id(self.public_raw)

    def sign(self, tree_size: int, root_hash: bytes, timestamp_ms: int) -> TreeHead:
        message = head_bytes(tree_size, root_hash, timestamp_ms, self.key_id)
        return TreeHead(tree_size, root_hash, timestamp_ms, self.key_id, self._key.sign(message))

    def verifier(self) -> HeadVerifier:
        return HeadVerifier(self.public_raw)


class HeadVerifier:
    """Holds only the public key: what an auditor needs."""

    def __init__(self, public_raw: bytes) -> None:
        self.public_raw = public_raw
        self.key_id = public_key_id(public_raw)
        self._key = Ed25519PublicKey.from_public_bytes(public_raw)

    def verify(self, head: TreeHead) -> None:
        if head.key_id != self.key_id:
            raise SignatureInvalidError(head.tree_size, head.key_id)
        try:
            self._key.verify(head.signature, head.signed_bytes())
        except InvalidSignature:
            raise SignatureInvalidError(head.tree_size, head.key_id) from None

    def public_dict(self) -> dict[str, str]:
        return {
            "algorithm": "Ed25519",
            "key_id": self.key_id,
            "public_key": base64.b64encode(self.public_raw).decode("ascii"),
        }


def new_signing_secret() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )


def signing_secret_from(data: dict[str, Any], source: str) -> bytes:
    """The Ed25519 secret in a key file's ``signing`` section."""
    section = data.get("signing")
    if not isinstance(section, dict) or "secret" not in section:
        raise ConfigurationError(f"{source} has no tree-head signing key (run `taizhang init`)")
    try:
        return base64.b64decode(section["secret"], validate=True)
    except (ValueError, TypeError):
        raise ConfigurationError(f"{source}: the signing key is not valid base64") from None


def signing_section() -> dict[str, str]:
    """A fresh ``signing`` section for the key file."""
    return {
        "algorithm": "Ed25519",
        "secret": base64.b64encode(new_signing_secret()).decode("ascii"),
        "created_at": datetime.now(UTC).isoformat(),
    }
