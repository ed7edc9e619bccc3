"""``taizhang verify``: recompute every leaf from the database and check every signed head.

Three sources are compared: the rows as stored now, the sealed leaf hashes
(``merkle_leaves``), and the signed tree heads. The heads are the authority;
the sealed leaves are trusted only where they reproduce the heads' roots, and
then they say what each row looked like when it was sealed, which is how the
report names the first bad position and what happened there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from crypto.leaf import StoredRecord, encode_leaf, record_leaf_hash
from crypto.merkle import MerkleTree, leaf_hash
from crypto.proofs import verify_consistency
from crypto.signing import HeadVerifier, SignatureInvalidError, TreeHead
from domain.errors import TaizhangError
from projections.database import ViewDatabase
from replay.records import events_table, iter_records, position_column, record_from_row
from replay.sealer import load_heads, load_leaves

MISSING = b"\x00" * 32


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the log."""

    kind: str  # modified, swapped, deleted, inserted, reordered, head_signature_invalid, ...
    position: int | None
    detail: str

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "position": self.position, "detail": self.detail}


@dataclass
class VerifyReport:
    records: int = 0
    sealed: int = 0
    heads: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def unsealed(self) -> int:
        return max(0, self.records - self.sealed)

    def first(self) -> Finding | None:
        placed = [f for f in self.findings if f.position is not None]
        return (
            min(placed, key=lambda f: f.position or 0)
            if placed
            else (self.findings[0] if self.findings else None)
        )

    def as_dict(self) -> dict[str, object]:
        first = self.first()
        return {
            "ok": self.ok,
            "records": self.records,
            "sealed": self.sealed,
            "unsealed": self.unsealed,
            "tree_heads": self.heads,
            "first_bad": first.as_dict() if first else None,
            "findings": [f.as_dict() for f in self.findings],
        }


def verify_log(db: ViewDatabase, verifier: HeadVerifier, ticker: object = None) -> VerifyReport:
    """Check the whole log; the report lists every finding, first bad position first."""
    heads = load_heads(db)
    positions, sealed_hashes = load_leaves(db)
    report = VerifyReport(sealed=heads[-1].tree_size if heads else 0, heads=len(heads))
    report.findings.extend(_check_heads(heads, verifier))
    sealed_tree = MerkleTree()
    sealed_tree.extend(sealed_hashes)
    trusted = _heads_matching(heads, sealed_tree, report)

    recomputed, extra, count = _recompute(db, positions, ticker)
    report.records = count
    live_tree = MerkleTree()
    live_tree.extend(recomputed)
    last_sealed = positions[-1] if positions else 0
    findings = _diagnose(db, positions, sealed_hashes, recomputed, trusted)
    findings += [
        Finding("inserted", p, f"row at position {p} was never sealed: a forged row")
        for p in extra
        if p <= last_sealed
    ]
    if not findings:  # rows agree with the sealed leaves; the heads must agree with both
        for head in heads:
            if (
                head.tree_size <= live_tree.size
                and live_tree.root(head.tree_size) != head.root_hash
            ):
                findings.append(
                    Finding(
                        "root_mismatch",
                        None,
                        f"rows do not reproduce the head at size {head.tree_size}",
                    )
                )
    report.findings.extend(sorted(findings, key=lambda f: (f.position or 0, f.kind)))
    return report


def _check_heads(heads: Sequence[TreeHead], verifier: HeadVerifier) -> list[Finding]:
    found = []
    for head in heads:
        try:
            verifier.verify(head)
        except SignatureInvalidError as exc:
            found.append(Finding("head_signature_invalid", None, exc.message))
    return found


def _heads_matching(heads: Sequence[TreeHead], tree: MerkleTree, report: VerifyReport) -> bool:
    """Do the sealed leaves reproduce every head, and are the heads consistent?"""
    trusted = True
    previous: TreeHead | None = None
    for head in heads:
        if head.tree_size > tree.size or tree.root(head.tree_size) != head.root_hash:
            report.findings.append(
                Finding(
                    "leaf_table_altered",
                    None,
                    "the sealed leaf hashes do not reproduce the signed head at size "
                    f"{head.tree_size}",
                )
            )
            trusted = False
            previous = head
            continue
        if previous is not None and previous.tree_size <= head.tree_size:
            proof = tree.consistency_proof(previous.tree_size, head.tree_size)
            try:
                verify_consistency(
                    previous.tree_size, head.tree_size, previous.root_hash, head.root_hash, proof
                )
            except TaizhangError as exc:
                report.findings.append(
                    Finding(
                        "heads_inconsistent",
                        None,
                        f"head {head.tree_size} does not extend head {previous.tree_size}: {exc}",
                    )
                )
        previous = head
    return trusted


def _recompute(
    db: ViewDatabase, positions: Sequence[int], ticker: object
) -> tuple[list[bytes], list[int], int]:
    """Leaf hashes of the rows now at the sealed positions; rows found elsewhere; row count."""
    recomputed: list[bytes] = []
    extra: list[int] = []
    count = 0
    i = 0
    for record in iter_records(db):
        count += 1
        while i < len(positions) and positions[i] < record.position:
            recomputed.append(MISSING)  # nothing stored at a sealed position
            i += 1
        if i < len(positions) and positions[i] == record.position:
            recomputed.append(record_leaf_hash(record))
            i += 1
        elif not positions or record.position < positions[-1]:
            extra.append(record.position)
        if ticker is not None and count % 10_000 == 0:
            ticker.advance(10_000)  # type: ignore[attr-defined]
    recomputed.extend(MISSING for _ in range(len(positions) - i))
    return recomputed, extra, count


def _diagnose(
    db: ViewDatabase,
    positions: Sequence[int],
    sealed: Sequence[bytes],
    recomputed: Sequence[bytes],
    trusted: bool,
) -> list[Finding]:
    """Name what happened at each position whose row no longer matches its sealed leaf."""
    bad = [i for i, (s, r) in enumerate(zip(sealed, recomputed, strict=True)) if s != r]
    if not bad:
        return []
    if not trusted:
        return [Finding("modified", positions[i], "row differs from its sealed leaf") for i in bad]
    wanted = {positions[j] for i in bad for j in (i - 1, i, i + 1) if 0 <= j < len(positions)}
    rows = _rows_at(db, sorted(wanted))
    index_of = {p: i for i, p in enumerate(positions)}
    judge = _Judge(positions, sealed, rows, index_of, set(bad))
    found = []
    skip_until = -1
    for i in bad:
        if i <= skip_until:
            continue
        finding, last = judge.classify(i)
        found.append(finding)
        skip_until = last
    return found


@dataclass
class _Judge:
    """Tests the hypotheses that explain a mismatch, most specific first."""

    positions: Sequence[int]
    sealed: Sequence[bytes]
    rows: dict[int, StoredRecord]
    index_of: dict[int, int]
    bad: set[int]

    def sealed_as(self, index: int, row: StoredRecord | None) -> bool:
        """Was ``row`` the row sealed at tree index ``index``?"""
        if row is None or not 0 <= index < len(self.positions):
            return False
        leaf = encode_leaf(
            self.positions[index], row.originator_id, row.version, row.topic, row.state
        )
        return leaf_hash(leaf) == self.sealed[index]

    def row_at(self, index: int) -> StoredRecord | None:
        if not 0 <= index < len(self.positions):
            return None
        return self.rows.get(self.positions[index])

    def shifted_run(self, start: int, offset: int) -> int:
        """The last index of the run after ``start`` whose rows were sealed ``offset`` away.

        A run closed by a gap (rows moved up leave the last sealed position empty)
        ends on that gap.
        """
        last = start
        while last + 1 in self.bad:
            moved = self.row_at(last + 1)
            if moved is None:
                return last + 1
            if not self.sealed_as(last + 1 + offset, moved):
                break
            last += 1
        return last

    def classify(self, i: int) -> tuple[Finding, int]:
        p = self.positions[i]
        row = self.row_at(i)
        if row is None:
            return Finding("deleted", p, f"the event sealed at position {p} is gone"), i
        for j in sorted(self.bad):
            other = self.row_at(j)
            if j == i or other is None:
                continue
            swapped = encode_leaf(p, row.originator_id, row.version, row.topic, other.state)
            if leaf_hash(swapped) == self.sealed[i]:
                q = self.positions[j]
                return Finding("swapped", p, f"its state was swapped with the event at {q}"), i
        # A permutation: this row was sealed elsewhere, and this place's row is elsewhere too.
        origin = next((j for j in sorted(self.bad) if j != i and self.sealed_as(j, row)), None)
        if origin is not None and any(
            j != i and self.sealed_as(i, self.row_at(j)) for j in sorted(self.bad)
        ):
            q = self.positions[origin]
            return Finding("reordered", p, f"the event sealed at {q} now sits at {p}"), i
        if self.sealed_as(i, self.row_at(i + 1)):
            last = self.shifted_run(i, offset=-1)
            moved = last - i
            return Finding(
                "inserted",
                p,
                f"a row was inserted at {p}; {moved} later rows were moved down to make room",
            ), last
        if self.sealed_as(i + 1, row):
            last = self.shifted_run(i, offset=1)
            moved = last - i + 1
            return Finding(
                "deleted",
                p,
                f"the event sealed at {p} was deleted; {moved} later "
                "rows were moved up to close the gap",
            ), last
        return Finding("modified", p, f"the event at position {p} was altered after sealing"), i


def _rows_at(db: ViewDatabase, wanted: Sequence[int]) -> dict[int, StoredRecord]:
    pos = position_column(db)
    found: dict[int, StoredRecord] = {}
    for start in range(0, len(wanted), 500):
        chunk = list(wanted[start : start + 500])
        marks = ", ".join("?" for _ in chunk)
        with db.transaction(commit=False) as cur:
            cur.execute(
                f"SELECT {pos} AS position, originator_id, originator_version, topic, state "
                f"FROM {events_table(db)} WHERE {pos} IN ({marks})",
                chunk,
            )
            for row in cur.fetchall():
                record = record_from_row(row)
                found[record.position] = record
    return found
