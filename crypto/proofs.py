"""Verification of RFC 9162 inclusion and consistency proofs, as pure functions.

Auditors, clients and the replay tool hold only signed (size, root) heads and
proofs, never the tree, so verification depends on nothing but its arguments
and the two hash functions of :mod:`crypto.merkle`. Every shape problem is
checked before any hashing and reported as :class:`ProofError`; a well-formed
proof whose hashes do not lead to the trusted root is :class:`RootMismatchError`,
the one failure that means "tampered with, or not the data you think".

A proof only binds a leaf to a root *for the size it is checked against*: for
some index pairs two sizes give the same path shape (leaf 0 in trees of 3 and
4 leaves, for example), so sizes must always come from the signed head that
also carries the root, never from the party supplying the proof.
"""

from __future__ import annotations

from collections.abc import Sequence

from crypto.merkle import EMPTY_ROOT, HASH_SIZE, node_hash
from domain.errors import TaizhangError


class ProofError(TaizhangError):
    """The proof cannot apply to the claimed sizes: bad index/size, wrong length, bad hash.

    The numbers involved are attributes (``None`` when not relevant).
    """

    code = "merkle_proof_invalid"

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        size: int | None = None,
        first: int | None = None,
        second: int | None = None,
        proof_length: int | None = None,
        expected_length: int | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.size = size
        self.first = first
        self.second = second
        self.proof_length = proof_length
        self.expected_length = expected_length


class RootMismatchError(TaizhangError):
    """A well-formed proof led to ``calculated``, not to the trusted root ``expected``."""

    code = "merkle_root_mismatch"

    def __init__(self, expected: bytes, calculated: bytes) -> None:
        super().__init__(
            f"calculated root {calculated.hex()} does not match expected root {expected.hex()}"
        )
        self.expected = expected
        self.calculated = calculated


def inclusion_proof_length(index: int, size: int) -> int:
    """How many hashes PATH(index, D[0:size]) has; requires 0 <= index < size.

    Below the level where the paths to ``index`` and to the last leaf part, the
    node on the path always has a sibling (one hash per level); above it the
    node is the last of its level and has a (left) sibling only where the
    remaining index bit is set.
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def consistency_proof_length(first: int, second: int) -> int:
    """How many hashes PROOF(first, D[0:second]) has; requires 0 < first < second.

    The proof is the path, inside the second tree, of the first tree's last
    complete subtree (2**t leaves, t = trailing zeros of ``first``), preceded by
    that subtree's hash unless it is the whole first tree (``first`` a power of two).
    """
    shift = (first & -first).bit_length() - 1
    seed = 0 if first == 1 << shift else 1
    return seed + inclusion_proof_length((first - 1) >> shift, ((second - 1) >> shift) + 1)


def root_from_inclusion_proof(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` implies for ``leaf_hash`` at ``index`` in a tree of ``size``.

    RFC 9162 §2.1.3.2 steps 2-4. Checking the exact proof length first makes the
    RFC's in-loop ``sn == 0`` and final ``sn != 0`` failures unreachable.
    """
    _check_count("index", index)
    _check_count("size", size)
    if index >= size:
        raise ProofError(f"index {index} is not below size {size}", index=index, size=size)
    _check_hash("leaf hash", leaf_hash)
    _check_proof(proof)
    expected = inclusion_proof_length(index, size)
    if len(proof) != expected:
        raise ProofError(
            f"inclusion proof for index {index} in size {size} has {len(proof)} hashes, "
            f"expected {expected}",
            index=index,
            size=size,
            proof_length=len(proof),
            expected_length=expected,
        )
    fn, sn = index, size - 1
    result = leaf_hash
    for sibling in proof:
        if fn & 1 or fn == sn:
            result = node_hash(sibling, result)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            result = node_hash(result, sibling)
        fn, sn = fn >> 1, sn >> 1
    return result


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Pass if ``leaf_hash`` is leaf ``index`` of the tree (``size``, ``root``); raise otherwise."""
    _check_hash("root", root)
    calculated = root_from_inclusion_proof(index, size, leaf_hash, proof)
    if calculated != root:
        raise RootMismatchError(root, calculated)


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Return if the tree (second, second_root) extends (first, first_root); else raise.

    RFC 9162 §2.1.4.2 for 0 < first < second, including its rule that when
    ``first`` is a power of two the proof omits ``first_root`` and the verifier
    prepends it. The RFC defines no proof for the other cases; we decide:

    * ``first == second``: the proof must be empty and the two roots equal.
    * ``first == 0``: the empty tree is a prefix of every tree, so the proof must
      be empty and only ``first_root`` is checked, against ``EMPTY_ROOT``; a
      different "empty" root is a forged head, reported as a mismatch.
    """
    _check_count("first", first)
    _check_count("second", second)
    if first > second:
        raise ProofError(
            f"first size {first} is larger than second size {second}", first=first, second=second
        )
    _check_hash("first root", first_root)
    _check_hash("second root", second_root)
    _check_proof(proof)
    if first in (0, second):
        if proof:
            raise ProofError(
                f"consistency from {first} to {second} needs an empty proof, got {len(proof)}",
                first=first,
                second=second,
                proof_length=len(proof),
                expected_length=0,
            )
        if first == 0 and first_root != EMPTY_ROOT:
            raise RootMismatchError(first_root, EMPTY_ROOT)
        if first == second and second_root != first_root:
            raise RootMismatchError(second_root, first_root)
        return
    expected = consistency_proof_length(first, second)
    if len(proof) != expected:
        raise ProofError(
            f"consistency proof from {first} to {second} has {len(proof)} hashes, "
            f"expected {expected}",
            first=first,
            second=second,
            proof_length=len(proof),
            expected_length=expected,
        )
    path = [first_root, *proof] if first & (first - 1) == 0 else list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    first_calculated = second_calculated = path[0]
    for node in path[1:]:
        if fn & 1 or fn == sn:
            first_calculated = node_hash(node, first_calculated)
            second_calculated = node_hash(node, second_calculated)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            second_calculated = node_hash(second_calculated, node)
        fn, sn = fn >> 1, sn >> 1
    if first_calculated != first_root:
        raise RootMismatchError(first_root, first_calculated)
    if second_calculated != second_root:
        raise RootMismatchError(second_root, second_calculated)


def _check_count(name: str, value: int) -> None:
    if type(value) is not int or value < 0:
        raise ProofError(f"{name} must be a non-negative integer, got {value!r}")


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{name} is not a {HASH_SIZE}-byte hash")


def _check_proof(proof: Sequence[bytes]) -> None:
    for position, value in enumerate(proof):
        _check_hash(f"proof[{position}]", value)
