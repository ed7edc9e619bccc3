"""The Merkle leaf of one stored event: a canonical encoding of its row.

The leaf covers the row exactly as stored — position, originator id,
version, topic and the *encrypted* state — so the tree verifies without any
decryption key and keeps verifying after a subject's data key is destroyed.
``docs/audit-bundle.md`` specifies the same bytes for independent verifiers::

    0x01                      format version
    u64  position             the event's notification id (big-endian)
    16B  originator id        the aggregate's UUID, raw bytes
    u64  originator version
    u16  len(topic) || topic  UTF-8
    u32  len(state) || state  the stored (encrypted) state, byte for byte
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from uuid import UUID

from crypto.merkle import leaf_hash

LEAF_FORMAT = 1
_HEAD = struct.Struct(">BQ16sQH")
_LEN = struct.Struct(">I")


@dataclass(frozen=True)
class StoredRecord:
    """One row of the event table, as the database holds it."""

    position: int
    originator_id: UUID
    version: int
    topic: str
    state: bytes


def encode_leaf(
    position: int, originator_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    """The canonical leaf bytes of a row (see the module docstring)."""
    topic_bytes = topic.encode("utf-8")
    return b"".join(
        (
            _HEAD.pack(LEAF_FORMAT, position, originator_id.bytes, version, len(topic_bytes)),
            topic_bytes,
            _LEN.pack(len(state)),
            state,
        )
    )


def record_leaf(record: StoredRecord) -> bytes:
    return encode_leaf(
        record.position, record.originator_id, record.version, record.topic, record.state
    )


def record_leaf_hash(record: StoredRecord) -> bytes:
    """RFC 6962 leaf hash of a row: SHA-256(0x00 || leaf)."""
    return leaf_hash(record_leaf(record))
