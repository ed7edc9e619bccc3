"""Envelope encryption of personal fields: one data key per subject, wrapped by a master key.

This is the inner of the two layers of DESIGN.md. A subject's personal fields
(name, ID number, mobile, credit code) are sealed with the subject's own
256-bit data key before they enter an event; the events themselves are then
encrypted by the store cipher. The data key lives only in the key table
(:mod:`crypto.subject_keys`), wrapped by the current master key. Deleting that
row is crypto-shredding: the events stay, verify and count, but their sealed
fields can never be opened again.

Formats::

    token   = "tzf1:" + base64( nonce(12) || AES-256-GCM(data key, value, aad) )
    aad     = "taizhang-field/1\\0" || subject id (16 bytes) || field name (UTF-8)
    wrapped = nonce(12) || AES-256-GCM(master key, data key, wrap aad)
    wrap aad = "taizhang-subject-key/1\\0" || subject id (16 bytes) || master key id (ASCII)

Data keys are unwrapped for one call and dropped: nothing caches them, nothing
logs them, and no ``repr`` shows them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.keyring import Keyring, StoreKey
from crypto.subject_keys import (
    KeyRemnantError,
    SubjectDataDestroyedError,
    SubjectKeyTable,
    WrappedKey,
)
from domain.errors import ConfigurationError, TaizhangError
from domain.ledger import FieldSealer

__all__ = [
    "TOKEN_PREFIX",
    "EnvelopeSealer",
    "SealedFieldError",
    "SubjectDataDestroyedError",
    "open_field",
    "seal_field",
    "unwrap_data_key",
    "wrap_data_key",
]

TOKEN_PREFIX = "tzf1:"  # noqa: S105 (a format tag, not a secret)
DATA_KEY_SIZE = 32
NONCE_SIZE = 12
FIELD_LABEL = b"taizhang-field/1\x00"
WRAP_LABEL = b"taizhang-subject-key/1\x00"


class SealedFieldError(TaizhangError):
    """A sealed field is malformed or was altered: it does not open with its subject's key."""

    code = "sealed_field_invalid"

    def __init__(self, subject_id: UUID, field: str, reason: str) -> None:
        super().__init__(f"sealed field {field!r} of subject {subject_id} does not open: {reason}")
        self.subject_id = subject_id
        self.field = field


# -- pure functions -----------------------------------------------------------------------
def new_data_key() -> bytes:
    return os.urandom(DATA_KEY_SIZE)


def wrap_aad(subject_id: UUID, master_key_id: str) -> bytes:
    return WRAP_LABEL + subject_id.bytes + master_key_id.encode("ascii")


def field_aad(subject_id: UUID, field: str) -> bytes:
    return FIELD_LABEL + subject_id.bytes + field.encode("utf-8")


def wrap_data_key(master: StoreKey, subject_id: UUID, data_key: bytes) -> bytes:
    """``nonce || AES-256-GCM(master, data key)``, bound to the subject and the master key id."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(master.secret).encrypt(
        nonce, data_key, wrap_aad(subject_id, master.key_id)
    )


def unwrap_data_key(master: StoreKey, subject_id: UUID, wrapped: bytes) -> bytes:
    """The data key inside ``wrapped``; a wrong master key or an altered row fails."""
    try:
        return AESGCM(master.secret).decrypt(
            wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], wrap_aad(subject_id, master.key_id)
        )
    except (InvalidTag, ValueError):
        raise ConfigurationError(
            f"master key {master.key_id} cannot unwrap the data key of subject {subject_id}:"
            " wrong master key, or the key table was altered"
        ) from None


def seal_field(data_key: bytes, subject_id: UUID, field: str, value: str) -> str:
    nonce = os.urandom(NONCE_SIZE)
    sealed = AESGCM(data_key).encrypt(nonce, value.encode("utf-8"), field_aad(subject_id, field))
    return TOKEN_PREFIX + base64.b64encode(nonce + sealed).decode("ascii")


def open_field(data_key: bytes, subject_id: UUID, field: str, token: str) -> str:
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
        raise SealedFieldError(subject_id, field, "not a sealed field token")
    try:
        raw = base64.b64decode(token[len(TOKEN_PREFIX) :], validate=True)
        plain = AESGCM(data_key).decrypt(
            raw[:NONCE_SIZE], raw[NONCE_SIZE:], field_aad(subject_id, field)
        )
    except (binascii.Error, InvalidTag, ValueError):
        raise SealedFieldError(subject_id, field, "altered, moved or damaged") from None
    return plain.decode("utf-8")


# -- the sealer -----------------------------------------------------------------------------
class EnvelopeSealer(FieldSealer):
    """Seals personal fields with per-subject data keys kept wrapped in the key table."""

    def __init__(self, master: Keyring, keys: SubjectKeyTable) -> None:
        self.master = master
        self.keys = keys
        self._fingerprint_key: bytes | None = None

    def seal(self, subject_id: UUID, fields: Mapping[str, str]) -> dict[str, str]:
        """Seal each field with the subject's data key, creating and storing the key if new."""
        data_key = self._key_for_sealing(subject_id)
        return {name: seal_field(data_key, subject_id, name, v) for name, v in fields.items()}

    def fingerprint(self, message: bytes) -> str:
        """HMAC-SHA256 of a request under a key derived from the current master key.

        Rotating the master key (and destroying the old one) makes every older
        fingerprint unverifiable, like every older wrapped data key.
        """
        if self._fingerprint_key is None:
            self._fingerprint_key = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"taizhang/request-fingerprint/1",
            ).derive(self.master.current.secret)
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()

    def seal_new(
        self, subjects: Sequence[tuple[UUID, Mapping[str, str]]]
    ) -> list[dict[str, str]]:
        """Seal many new subjects' fields; their keys go to the table in one transaction."""
        master = self.master.current
        created = datetime.now(UTC).isoformat()
        keys, sealed = [], []
        for subject_id, fields in subjects:
            data_key = new_data_key()
            keys.append(WrappedKey(str(subject_id), wrap_data_key(master, subject_id, data_key),
                                   master.key_id, created))
            sealed.append({n: seal_field(data_key, subject_id, n, v) for n, v in fields.items()})
        self.keys.insert_new(keys)
        return sealed

    def unseal(self, subject_id: UUID, sealed: Mapping[str, str]) -> dict[str, str]:
        """The plaintext fields; :class:`SubjectDataDestroyedError` once the key is gone."""
        stored = self.keys.get(subject_id)
        if stored is None:
            raise SubjectDataDestroyedError(
                subject_id, destroyed=self.keys.is_destroyed(subject_id)
            )
        data_key = self._unwrap(stored)
        return {name: open_field(data_key, subject_id, name, t) for name, t in sealed.items()}

    def destroy(self, subject_id: UUID) -> None:
        """Delete the subject's data key and purge the database's old copies (idempotent)."""
        self.keys.delete(subject_id)

    def is_destroyed(self, subject_id: UUID) -> bool:
        """Whether the subject's data key was destroyed (and not merely never stored)."""
        return self.keys.is_destroyed(subject_id)

    # -- master keys ---------------------------------------------------------------------
    def check_master(self) -> int:
        """Unwrap one stored data key per master key in use; return how many were checked.

        Raises :class:`ConfigurationError` when a key is wrapped by a master key
        that is not held, or when the held key is the wrong one.
        """
        samples = self.keys.one_per_master_key()
        for stored in samples:
            self._unwrap(stored)
        return len(samples)

    def rewrap_all(self) -> int:
        """Re-wrap every data key under the current master key, in one transaction."""
        current = self.master.current

        def rewrap(stored: WrappedKey) -> tuple[bytes, str]:
            subject_id = UUID(stored.subject_id)
            data_key = self._unwrap(stored)
            return wrap_data_key(current, subject_id, data_key), current.key_id

        count, horizon = self.keys.rewrap_all(rewrap)
        # Old copies left behind are wrapped by the master key that the rotation drops next.
        with contextlib.suppress(KeyRemnantError):
            self.keys.purge(after=horizon)
        return count

    def _master(self, key_id: str) -> StoreKey:
        for key in self.master.keys:
            if key.key_id == key_id:
                return key
        raise ConfigurationError(
            f"a data key is wrapped by master key {key_id!r}, which is not in the key file"
            " (or TAIZHANG_MASTER_KEY): is this the key file that belongs to this database?"
        )

    def _unwrap(self, stored: WrappedKey) -> bytes:
        master = self._master(stored.master_key_id)
        return unwrap_data_key(master, UUID(stored.subject_id), stored.wrapped)

    def _key_for_sealing(self, subject_id: UUID) -> bytes:
        existing = self.keys.get(subject_id)
        if existing is not None:
            return self._unwrap(existing)
        data_key = new_data_key()
        master = self.master.current
        candidate = WrappedKey(
            subject_id=str(subject_id),
            wrapped=wrap_data_key(master, subject_id, data_key),
            master_key_id=master.key_id,
            created_at=datetime.now(UTC).isoformat(),
        )
        stored = self.keys.insert_if_absent(candidate)
        if stored.wrapped != candidate.wrapped:  # another writer stored the subject's key first
            return self._unwrap(stored)
        return data_key
