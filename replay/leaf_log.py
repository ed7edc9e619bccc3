"""The leaf log: every event's Merkle leaf hash, written in the same transaction as the event.

The event recorders (``taizhang/recorders.py``) append one row per insert
transaction — the leaf index of its first event, the events' positions and
their leaf hashes, packed — so the tree's leaves exist as soon as the events
do, computed from the very bytes being stored, without reading the log back.
The sealer then only signs heads; ``taizhang verify`` recomputes every leaf from
the rows and compares. Rows are append-only like the log (``replay.append_only``).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

from crypto.leaf import encode_leaf
from crypto.merkle import HASH_SIZE, leaf_hash

LEAF_TABLE = "merkle_leaves"
_POSITION = struct.Struct(">Q")


def leaf_table_ddl(schema: str, blob: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {schema}{LEAF_TABLE} ("
        f"first_index BIGINT PRIMARY KEY, leaf_count INTEGER NOT NULL, "
        f"positions {blob} NOT NULL, hashes {blob} NOT NULL)"
    )


def pack_positions(positions: Sequence[int]) -> bytes:
    return struct.pack(f">{len(positions)}Q", *positions)


def unpack_positions(blob: bytes) -> list[int]:
    return list(struct.unpack(f">{len(blob) // _POSITION.size}Q", blob))


def split_hashes(blob: bytes) -> list[bytes]:
    return [blob[i : i + HASH_SIZE] for i in range(0, len(blob), HASH_SIZE)]


def leaf_hashes(stored_events: Sequence[Any], positions: Sequence[int]) -> bytes:
    """The packed leaf hashes of rows about to be committed at ``positions``."""
    return b"".join(
        leaf_hash(encode_leaf(p, _uuid(e.originator_id), e.originator_version, e.topic, e.state))
        for e, p in zip(stored_events, positions, strict=True)
    )


def record_leaves(
    execute: Callable[[str, Sequence[Any]], None],
    fetchone: Callable[[], Any],
    schema: str,
    mark: str,
    stored_events: Sequence[Any],
    positions: Sequence[int],
) -> None:
    """Append one leaf-log row for an insert transaction (inside that transaction).

    The caller holds the log's write lock (SQLite's writer lock; the advisory
    lock on PostgreSQL), so the next leaf index cannot change underneath.
    """
    if not stored_events:
        return
    execute(
        f"SELECT first_index + leaf_count AS next FROM {schema}{LEAF_TABLE} "
        f"ORDER BY first_index DESC LIMIT 1",
        (),
    )
    row = fetchone()
    first = int(row["next"] if isinstance(row, dict) else row[0]) if row else 0
    execute(
        f"INSERT INTO {schema}{LEAF_TABLE} (first_index, leaf_count, positions, hashes) "
        f"VALUES ({mark}, {mark}, {mark}, {mark})",
        (first, len(positions), pack_positions(positions), leaf_hashes(stored_events, positions)),
    )


def _uuid(value: Any) -> Any:
    from uuid import UUID

    return value if isinstance(value, UUID) else UUID(str(value))
