"""The sealer: follows the log, keeps its Merkle tree, and signs tree heads.

Each stored event becomes a leaf (``crypto.leaf``) whose hash the event
recorder appends to the leaf log in the event's own transaction
(``replay.leaf_log``); the sealer follows that log, keeps the tree in memory
and signs heads. ``taizhang verify`` recomputes every leaf from the rows. A
head is signed when ``every_events`` leaves are waiting or the oldest waiting
leaf is ``every_seconds`` old.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from crypto.merkle import MerkleTree
from crypto.signing import HeadSigner, TreeHead
from domain.errors import NotFoundError, TaizhangError
from domain.ledger import Ledger
from projections.database import ViewDatabase
from replay.append_only import create_integrity_tables
from replay.leaf_log import split_hashes, unpack_positions

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InclusionProof:
    position: int
    tree_index: int
    tree_size: int
    leaf_hash: bytes
    path: list[bytes]
    root_hash: bytes

    def as_dict(self) -> dict[str, object]:
        return {
            "position": self.position,
            "leaf_index": self.tree_index,
            "tree_size": self.tree_size,
            "leaf_hash": self.leaf_hash.hex(),
            "audit_path": [h.hex() for h in self.path],
            "root_hash": self.root_hash.hex(),
        }


def load_heads(db: ViewDatabase) -> list[TreeHead]:
    """Every signed tree head, smallest first."""
    with db.transaction(commit=False) as cur:
        cur.execute(
            "SELECT tree_size, root_hash, timestamp_ms, key_id, signature "
            "FROM {schema}tree_heads ORDER BY tree_size"
        )
        rows = cur.fetchall()
    return [
        TreeHead(
            int(r["tree_size"]),
            bytes(r["root_hash"]),
            int(r["timestamp_ms"]),
            str(r["key_id"]),
            bytes(r["signature"]),
        )
        for r in rows
    ]


def load_leaves(db: ViewDatabase, first: int = 0) -> tuple[list[int], list[bytes]]:
    """(positions, leaf hashes) of the leaves from index ``first`` on, in tree order."""
    positions: list[int] = []
    hashes: list[bytes] = []
    with db.transaction(commit=False) as cur:
        cur.execute(
            "SELECT first_index, leaf_count, positions, hashes FROM {schema}merkle_leaves "
            "WHERE first_index + leaf_count > ? ORDER BY first_index",
            (first,),
        )
        rows = cur.fetchall()
    for row in rows:
        start = int(row["first_index"])
        if start != first + len(positions):
            raise LeafLogGapError(first + len(positions), start)
        skip = max(0, first - start)
        positions.extend(unpack_positions(bytes(row["positions"]))[skip:])
        hashes.extend(split_hashes(bytes(row["hashes"]))[skip:])
    return positions, hashes


class LeafLogGapError(TaizhangError):
    """The leaf log skips leaf indexes: rows were removed from it."""

    def __init__(self, expected: int, found: int) -> None:
        super().__init__(f"the leaf log jumps from leaf {expected} to leaf {found}")


class Sealer:
    """Keeps the Merkle tree of one ledger's log and signs its heads."""

    def __init__(
        self,
        ledger: Ledger,
        signer: HeadSigner,
        *,
        every_events: int = 1000,
        every_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.db = ViewDatabase(ledger)
        self.signer = signer
        self.every_events = every_events
        self.every_seconds = every_seconds
        self.clock = clock
        self._lock = threading.RLock()
        self._waiting_since: float | None = None
        with self.db.transaction() as cur:
            create_integrity_tables(cur)
        self.reload()

    def reload(self) -> None:
        """Rebuild the in-memory tree from the stored leaf hashes."""
        with self._lock:
            positions, hashes = load_leaves(self.db)
            self.tree = MerkleTree()
            self.tree.extend(hashes)
            self.positions = positions
            self._index_of = {p: i for i, p in enumerate(positions)}
            heads = load_heads(self.db)
            self.latest = heads[-1] if heads else None

    # -- following the log -----------------------------------------------------------------
    def catch_up(self) -> int:
        """Extend the tree with the leaves the recorders appended since; return how many."""
        with self._lock:
            positions, hashes = load_leaves(self.db, self.tree.size)
            if not hashes:
                return 0
            start = self.tree.size
            self.tree.extend(hashes)
            for offset, position in enumerate(positions):
                self._index_of[position] = start + offset
            self.positions.extend(positions)
            if self._waiting_since is None:
                self._waiting_since = self.clock()
            return len(hashes)

    def unsigned(self) -> int:
        return self.tree.size - (self.latest.tree_size if self.latest else 0)

    def sign_head(self) -> TreeHead | None:
        """Sign and store a head for the current tree, if it grew since the last one."""
        with self._lock:
            if self.tree.size == 0 or not self.unsigned():
                return None
            size = self.tree.size
            head = self.signer.sign(size, self.tree.root(size), int(self.clock() * 1000))
            try:
                with self.db.transaction() as cur:
                    cur.execute(
                        "INSERT INTO {schema}tree_heads "
                        "(tree_size, root_hash, timestamp_ms, key_id, signature) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (
                            head.tree_size,
                            head.root_hash,
                            head.timestamp_ms,
                            head.key_id,
                            head.signature,
                        ),
                    )
            except Exception:  # another sealer signed this size first
                self.reload()
                return self.latest
            self.latest = head
            self._waiting_since = None
            return head

    def seal_once(self, *, force: bool = False) -> TreeHead | None:
        """Follow the log, then sign if the policy (or ``force``) says so."""
        self.catch_up()
        waiting = self.unsigned()
        if not waiting:
            return None
        old = self._waiting_since is not None and (
            self.clock() - self._waiting_since >= self.every_seconds
        )
        if force or waiting >= self.every_events or old:
            return self.sign_head()
        return None

    def run(self, stop: threading.Event, poll: float = 0.25) -> None:
        """Seal until ``stop`` is set (``taizhang serve`` runs this in a thread)."""
        while not stop.is_set():
            try:
                self.seal_once()
            except Exception:
                logger.exception("sealing failed; retrying")
            stop.wait(poll)

    # -- proofs ------------------------------------------------------------------------------
    def inclusion(self, position: int, tree_size: int | None = None) -> InclusionProof:
        with self._lock:
            size = tree_size if tree_size is not None else self.tree.size
            index = self._index_of.get(position)
            if index is None or not 0 < size <= self.tree.size or index >= size:
                raise NotFoundError("sealed event at position", position)
            return InclusionProof(
                position=position,
                tree_index=index,
                tree_size=size,
                leaf_hash=self.tree.leaf(index),
                path=self.tree.inclusion_proof(index, size),
                root_hash=self.tree.root(size),
            )

    def consistency(self, first: int, second: int) -> list[bytes]:
        with self._lock:
            return self.tree.consistency_proof(first, second)
