"""A mapper that binds each event's ciphertext to the row that holds it.

The row's identity (originator id, version, topic) is the AES-GCM associated
data, so a ciphertext copied or moved into another row — a swap of two events'
states, a replayed old state — fails to decrypt, with an error naming the row.
eventsourcing's own mapper passes nothing to the cipher; this is the library's
extension point for that (``MAPPER_TOPIC``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent, find_id_convertor
from eventsourcing.utils import get_topic, resolve_topic

from crypto.store_cipher import DecryptionError, KeyringCipher
from domain.errors import TaizhangError

AAD_PREFIX = b"taizhang-row/1\x00"


class RowDecryptionError(TaizhangError):
    """A stored event's state does not decrypt in its row: altered, moved or wrong key."""

    code = "row_decryption_failed"

    def __init__(self, originator_id: UUID | str, version: int, topic: str, reason: str) -> None:
        super().__init__(
            f"event {originator_id} v{version} ({topic}) does not decrypt in its row: {reason}"
        )
        self.originator_id = originator_id
        self.version = version


def row_identity(originator_id: UUID | str, version: int, topic: str) -> bytes:
    """The associated data of a row: prefix, 16-byte id, version, topic (NUL-separated)."""
    ident = originator_id.bytes if isinstance(originator_id, UUID) else UUID(originator_id).bytes
    return b"".join(
        (AAD_PREFIX, ident, str(version).encode("ascii"), b"\x00", topic.encode("utf-8"))
    )


class RowBoundMapper(Mapper[UUID]):
    """Transcode, then encrypt with the row's identity as associated data."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        topic = get_topic(domain_event.__class__)
        state = dict(vars(domain_event))
        originator_id = state.pop("originator_id")
        version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        data = self._cipher.encrypt(data, row_identity(originator_id, version, topic))
        return StoredEvent(
            originator_id=originator_id, originator_version=version, topic=topic, state=data
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        aad = row_identity(
            stored_event.originator_id, stored_event.originator_version, stored_event.topic
        )
        try:
            plain = self._cipher.decrypt(stored_event.state, aad)
        except DecryptionError as exc:
            raise RowDecryptionError(
                stored_event.originator_id, stored_event.originator_version,
                stored_event.topic, str(exc),
            ) from None
        if self.compressor:
            plain = self.compressor.decompress(plain)
        state: dict[str, Any] = self.transcoder.decode(plain)
        cls = resolve_topic(stored_event.topic)
        convert = find_id_convertor(cls, type(stored_event.originator_id))
        state["originator_id"] = convert(stored_event.originator_id)
        state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        event = object.__new__(cls)
        object.__setattr__(event, "__dict__", state)
        return event

    @property
    def _cipher(self) -> KeyringCipher:
        if not isinstance(self.cipher, KeyringCipher):
            raise TypeError("RowBoundMapper needs the keyring cipher (CIPHER_TOPIC)")
        return self.cipher
