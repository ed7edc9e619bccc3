"""Audit bundles: a self-contained file that proves the log from an auditor's chair.

``export_bundle`` writes JSON Lines (format in ``docs/audit-bundle.md``): a
header with the public key, the signed heads at sizes ``first`` and ``second``
and the consistency proof between them, then every stored record of the first
``second`` leaves, byte for byte (states stay encrypted). ``verify_bundle``
needs nothing but the file: no database, no decryption key.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from uuid import UUID

import orjson

from crypto.leaf import StoredRecord, record_leaf_hash
from crypto.merkle import MerkleTree
from crypto.proofs import verify_consistency
from crypto.signing import HeadVerifier, TreeHead
from domain.errors import InvalidInputError, TaizhangError
from replay.records import iter_records
from replay.sealer import Sealer, load_heads

FORMAT = "taizhang-audit-bundle/1"


class BundleFormatError(TaizhangError):
    """The file is not a readable audit bundle."""

    code = "bundle_malformed"


@dataclass
class BundleReport:
    first: int
    second: int
    records: int = 0
    problems: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "first": self.first,
            "second": self.second,
            "records": self.records,
            "checks": self.checks,
            "problems": self.problems,
        }


def _head_at(heads: list[TreeHead], size: int, name: str) -> TreeHead | None:
    if size == 0:
        return None
    for head in heads:
        if head.tree_size == size:
            return head
    sizes = ", ".join(str(h.tree_size) for h in heads[-5:]) or "none yet"
    raise InvalidInputError(name, f"no signed tree head at size {size} (latest: {sizes})")


def export_bundle(
    sealer: Sealer, first: int, second: int, out: IO[bytes], ticker: object = None
) -> int:
    """Write the bundle for heads ``first`` ≤ ``second``; return the number of records."""
    if not 0 <= first <= second:
        raise InvalidInputError("first", "first must be between 0 and second")
    sealer.catch_up()
    heads = load_heads(sealer.db)
    first_head = _head_at(heads, first, "first")
    second_head = _head_at(heads, second, "second")
    assert second_head is not None or second == 0
    header = {
        "format": FORMAT,
        "first": first,
        "second": second,
        "leaf_format": 1,
        "public_key": sealer.signer.verifier().public_dict(),
        "first_head": first_head.as_dict() if first_head else None,
        "second_head": second_head.as_dict() if second_head else None,
        "consistency_proof": [h.hex() for h in sealer.consistency(first, second)]
        if 0 < first < second
        else [],
    }
    out.write(orjson.dumps(header) + b"\n")
    last_position = sealer.positions[second - 1] if second else 0
    written = 0
    for record in iter_records(sealer.db, until=last_position):
        if written >= second:
            break
        out.write(
            orjson.dumps(
                {
                    "i": written,
                    "position": record.position,
                    "originator_id": str(record.originator_id),
                    "version": record.version,
                    "topic": record.topic,
                    "state": base64.b64encode(record.state).decode("ascii"),
                }
            )
            + b"\n"
        )
        written += 1
        if ticker is not None:
            ticker.advance(1)  # type: ignore[attr-defined]
    return written


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from handle


def verify_bundle(
    path: Path, trusted_head: dict[str, Any] | None = None, ticker: object = None
) -> BundleReport:
    """Check a bundle offline; ``trusted_head`` is a head the auditor already holds."""
    lines = _lines(path)
    try:
        header = orjson.loads(next(lines))
        if header.get("format") != FORMAT:
            raise BundleFormatError(f"{path}: not a {FORMAT} file")
        first, second = int(header["first"]), int(header["second"])
        verifier = HeadVerifier(base64.b64decode(header["public_key"]["public_key"]))
        first_head = TreeHead.from_dict(header["first_head"]) if header["first_head"] else None
        second_head = TreeHead.from_dict(header["second_head"]) if header["second_head"] else None
        proof = [bytes.fromhex(h) for h in header["consistency_proof"]]
    except (StopIteration, KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:
        raise BundleFormatError(f"{path}: unreadable bundle header ({exc})") from None
    report = BundleReport(first, second)
    if header["public_key"].get("key_id") != verifier.key_id:
        report.problems.append("the header's key id does not name its public key")
    for head in (first_head, second_head):
        if head is None:
            continue
        try:
            verifier.verify(head)
            report.checks.append(f"signature of head {head.tree_size} verifies")
        except TaizhangError as exc:
            report.problems.append(exc.message)
    tree = MerkleTree()
    previous = 0
    for number, line in enumerate(lines):
        try:
            item = orjson.loads(line)
            record = StoredRecord(
                int(item["position"]),
                UUID(item["originator_id"]),
                int(item["version"]),
                str(item["topic"]),
                base64.b64decode(item["state"]),
            )
            index = int(item["i"])
        except (KeyError, TypeError, ValueError, orjson.JSONDecodeError) as exc:
            raise BundleFormatError(
                f"{path}: record line {number + 2} unreadable ({exc})"
            ) from None
        if index != tree.size:
            report.problems.append(f"record {index} is out of order (expected {tree.size})")
        if record.position <= previous:
            report.problems.append(f"position {record.position} does not increase (record {index})")
        previous = record.position
        tree.append(record_leaf_hash(record))
        if ticker is not None:
            ticker.advance(1)  # type: ignore[attr-defined]
    report.records = tree.size
    if tree.size != second:
        report.problems.append(f"the bundle holds {tree.size} records, not {second}")
        return report
    for head in (first_head, second_head):
        if head is not None:
            if tree.root(head.tree_size) == head.root_hash:
                report.checks.append(f"records reproduce the root of head {head.tree_size}")
            else:
                report.problems.append(
                    f"records do not reproduce the root of head {head.tree_size}"
                )
    if first_head and second_head and first < second:
        try:
            verify_consistency(first, second, first_head.root_hash, second_head.root_hash, proof)
            report.checks.append(f"consistency proof {first} -> {second} verifies")
        except TaizhangError as exc:
            report.problems.append(f"consistency proof {first} -> {second} fails: {exc}")
    if trusted_head is not None:
        _check_trusted(trusted_head, tree, verifier, report)
    return report


def _check_trusted(
    data: dict[str, Any], tree: MerkleTree, verifier: HeadVerifier, report: BundleReport
) -> None:
    try:
        trusted = TreeHead.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise BundleFormatError(f"the trusted head is unreadable ({exc})") from None
    try:
        verifier.verify(trusted)
    except TaizhangError as exc:
        report.problems.append(f"trusted head: {exc.message}")
        return
    if trusted.tree_size > tree.size:
        report.problems.append(
            f"the trusted head (size {trusted.tree_size}) is beyond this bundle ({tree.size})"
        )
    elif tree.root(trusted.tree_size) != trusted.root_hash:
        report.problems.append(
            f"this log does not extend the trusted head at size {trusted.tree_size}"
        )
    else:
        report.checks.append(f"the log extends the trusted head at size {trusted.tree_size}")
