"""Tests for RFC 6962 hashing, the incremental MerkleTree and RFC 9162 proof verification.

Three independent sources of truth: the published Certificate Transparency
vectors (``tests/vectors/rfc6962-*.json``), a slow recursive reference written
straight from RFC 6962 §2.1 below (used only here), and failure vectors named by
what was changed (``tests/vectors/inclusion-*.json``, ``consistency-*.json``),
each carrying the valid proof it was derived from so the change is checkable.
"""

from __future__ import annotations

import json
import random
from hashlib import sha256
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.merkle import (
    EMPTY_ROOT,
    MerkleInputError,
    MerkleTree,
    leaf_hash,
    node_hash,
    root_from_leaf_hashes,
    split_point,
)
from crypto.proofs import (
    ProofError,
    RootMismatchError,
    consistency_proof_length,
    inclusion_proof_length,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from domain.errors import TaizhangError

VECTORS = Path(__file__).resolve().parent.parent / "vectors"
FAILURE_VECTORS = sorted(
    path.name for path in VECTORS.glob("*.json") if not path.name.startswith("rfc6962-")
)
ERRORS = {"ProofError": ProofError, "RootMismatchError": RootMismatchError}
VERIFY_ERRORS = (ProofError, RootMismatchError)
SLOW = settings(max_examples=150, deadline=None)


def load(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())


def unhex(values: list[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in values]


# --- The slow reference: RFC 6962 §2.1.1 and §2.1.2, word for word, over leaf hashes. ---


def ref_split(n: int) -> int:
    k = 1
    while 2 * k < n:
        k *= 2
    return k


def ref_mth(hashes: list[bytes]) -> bytes:
    if not hashes:
        return sha256(b"").digest()
    if len(hashes) == 1:
        return hashes[0]
    k = ref_split(len(hashes))
    return sha256(b"\x01" + ref_mth(hashes[:k]) + ref_mth(hashes[k:])).digest()


def ref_path(m: int, hashes: list[bytes]) -> list[bytes]:
    if len(hashes) == 1:
        return []
    k = ref_split(len(hashes))
    if m < k:
        return [*ref_path(m, hashes[:k]), ref_mth(hashes[k:])]
    return [*ref_path(m - k, hashes[k:]), ref_mth(hashes[:k])]


def ref_subproof(m: int, hashes: list[bytes], whole: bool) -> list[bytes]:
    if m == len(hashes):
        return [] if whole else [ref_mth(hashes)]
    k = ref_split(len(hashes))
    if m <= k:
        return [*ref_subproof(m, hashes[:k], whole), ref_mth(hashes[k:])]
    return [*ref_subproof(m - k, hashes[k:], False), ref_mth(hashes[:k])]


def ref_proof(m: int, hashes: list[bytes]) -> list[bytes]:
    return [] if m == 0 else ref_subproof(m, hashes, True)


def ref_path_shape(m: int, n: int) -> tuple[str, ...]:
    """Which side each PATH node joins on: all a verifier can learn from (index, size)."""
    if n == 1:
        return ()
    k = ref_split(n)
    if m < k:
        return (*ref_path_shape(m, k), "R")
    return (*ref_path_shape(m - k, n - k), "L")


def ref_proof_shape(m: int, n: int, whole: bool = True) -> tuple[str, ...]:
    """SUBPROOF's node roles: seed, right sibling (second tree only), left sibling (both)."""
    if m == n:
        return () if whole else ("seed",)
    k = ref_split(n)
    if m <= k:
        return (*ref_proof_shape(m, k, whole), "R")
    return (*ref_proof_shape(m - k, n - k, False), "L")


def leaves_for(count: int, salt: bytes = b"") -> list[bytes]:
    """Distinct leaf hashes: with duplicates a proof for one index may honestly fit another."""
    return [leaf_hash(salt + index.to_bytes(4, "big")) for index in range(count)]


def flip_bit(proof: list[bytes], at: int, bit: int) -> list[bytes]:
    """A copy of ``proof`` with one bit of node ``at`` inverted."""
    changed = bytearray(proof[at])
    changed[bit // 8] ^= 1 << bit % 8
    return [*proof[:at], bytes(changed), *proof[at + 1 :]]


@st.composite
def trees(draw: st.DrawFn, max_size: int = 300) -> tuple[list[bytes], MerkleTree]:
    """A tree of 1..max_size leaves, built by single appends or by extends in random chunks."""
    leaves = leaves_for(draw(st.integers(1, max_size)), draw(st.binary(max_size=8)))
    tree = MerkleTree()
    position = 0
    while position < len(leaves):
        chunk = draw(st.integers(1, len(leaves) - position))
        if chunk == 1:
            tree.append(leaves[position])
        else:
            tree.extend(leaves[position : position + chunk])
        position += chunk
    return leaves, tree


@st.composite
def inclusion_cases(draw: st.DrawFn) -> tuple[list[bytes], MerkleTree, int, int]:
    leaves, tree = draw(trees())
    size = draw(st.integers(1, len(leaves)))
    return leaves, tree, draw(st.integers(0, size - 1)), size


@st.composite
def consistency_cases(draw: st.DrawFn) -> tuple[list[bytes], MerkleTree, int, int]:
    leaves, tree = draw(trees())
    second = draw(st.integers(1, len(leaves)))
    return leaves, tree, draw(st.integers(0, second)), second


# --- Published RFC 6962 vectors. ---


def test_the_published_leaf_hashes_and_roots_for_sizes_0_to_8_are_reproduced() -> None:
    vector = load("rfc6962-roots.json")
    hashes = [leaf_hash(bytes.fromhex(data)) for data in vector["leaves"]]
    assert [h.hex() for h in hashes] == vector["leaf_hashes"]
    tree = MerkleTree(hashes)
    for entry in vector["roots"]:
        size, root = entry["size"], bytes.fromhex(entry["root"])
        assert tree.root(size) == root_from_leaf_hashes(hashes[:size]) == root
        assert ref_mth(hashes[:size]) == root
    assert tree.root().hex().startswith("5dc9da79a70659a9")


def test_the_empty_tree_root_is_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert MerkleTree().root() == root_from_leaf_hashes([]) == EMPTY_ROOT


def test_leaf_and_node_hashes_use_the_rfc_domain_separation_prefixes() -> None:
    assert leaf_hash(b"ab") == sha256(b"\x00ab").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()


@pytest.mark.parametrize("case", load("rfc6962-inclusion-proofs.json")["proofs"])
def test_the_published_inclusion_proofs_are_built_and_verify(case: dict[str, Any]) -> None:
    hashes = unhex(load("rfc6962-roots.json")["leaf_hashes"])
    tree, index, size = MerkleTree(hashes), case["index"], case["size"]
    assert (
        tree.inclusion_proof(index, size) == unhex(case["proof"]) == ref_path(index, hashes[:size])
    )
    verify_inclusion(index, size, hashes[index], unhex(case["proof"]), tree.root(size))


@pytest.mark.parametrize("case", load("rfc6962-consistency-proofs.json")["proofs"])
def test_the_published_consistency_proofs_are_built_and_verify(case: dict[str, Any]) -> None:
    hashes = unhex(load("rfc6962-roots.json")["leaf_hashes"])
    tree, first, second = MerkleTree(hashes), case["first"], case["second"]
    assert tree.consistency_proof(first, second) == unhex(case["proof"])
    assert unhex(case["proof"]) == ref_proof(first, hashes[:second])
    verify_consistency(first, second, tree.root(first), tree.root(second), unhex(case["proof"]))


# --- Failure vectors named by what was changed. ---


def run_vector(kind: str, case: dict[str, Any]) -> None:
    if kind == "inclusion":
        verify_inclusion(
            case["index"],
            case["size"],
            bytes.fromhex(case["leaf_hash"]),
            unhex(case["proof"]),
            bytes.fromhex(case["root"]),
        )
    else:
        verify_consistency(
            case["first"],
            case["second"],
            bytes.fromhex(case["first_root"]),
            bytes.fromhex(case["second_root"]),
            unhex(case["proof"]),
        )


def test_there_are_failure_vectors_for_both_proof_kinds() -> None:
    assert sum(name.startswith("inclusion-") for name in FAILURE_VECTORS) >= 8
    assert sum(name.startswith("consistency-") for name in FAILURE_VECTORS) >= 10


@pytest.mark.parametrize("name", FAILURE_VECTORS)
def test_each_failure_vector_differs_from_a_valid_proof_only_in_what_it_names(name: str) -> None:
    vector = load(name)
    assert name.startswith(vector["kind"] + "-")
    run_vector(vector["kind"], vector["valid"])
    valid, invalid = vector["valid"], vector["invalid"]
    assert sorted(key for key in valid if valid[key] != invalid[key]) == vector["changed"]


@pytest.mark.parametrize("name", FAILURE_VECTORS)
def test_each_failure_vector_is_rejected_with_the_error_it_names(name: str) -> None:
    vector = load(name)
    with pytest.raises(ERRORS[vector["error"]]):
        run_vector(vector["kind"], vector["invalid"])


def test_errors_carry_the_numbers_and_roots_involved() -> None:
    truncated = load("inclusion-truncated-proof.json")["invalid"]
    with pytest.raises(ProofError) as short:
        run_vector("inclusion", truncated)
    assert (short.value.index, short.value.size) == (5, 8)
    assert (short.value.proof_length, short.value.expected_length) == (2, 3)
    vector = load("inclusion-modified-root.json")
    with pytest.raises(RootMismatchError) as mismatch:
        run_vector("inclusion", vector["invalid"])
    assert mismatch.value.expected.hex() == vector["invalid"]["root"]
    assert mismatch.value.calculated.hex() == vector["valid"]["root"]
    assert isinstance(short.value, TaizhangError)
    assert isinstance(mismatch.value, TaizhangError)


def test_a_size_with_the_same_path_shape_also_verifies_so_sizes_come_from_signed_heads() -> None:
    hashes = unhex(load("rfc6962-roots.json")["leaf_hashes"])
    tree = MerkleTree(hashes)
    assert ref_path_shape(5, 7) == ref_path_shape(5, 8)
    verify_inclusion(5, 7, hashes[5], tree.inclusion_proof(5, 8), tree.root(8))
    verify_consistency(6, 7, tree.root(6), tree.root(8), tree.consistency_proof(6, 8))


def passes(verify: Any, *arguments: Any) -> bool:
    try:
        verify(*arguments)
    except VERIFY_ERRORS:
        return False
    return True


def test_a_proof_fits_another_size_exactly_when_the_reference_path_shape_is_the_same() -> None:
    leaves = leaves_for(24)
    tree = MerkleTree(leaves)
    for size in range(1, 13):
        for index in range(size):
            proof, root = tree.inclusion_proof(index, size), tree.root(size)
            for other in range(1, 25):
                same = index < other and ref_path_shape(index, other) == ref_path_shape(index, size)
                assert passes(verify_inclusion, index, other, leaves[index], proof, root) == same
    for second in range(2, 13):
        for first in range(1, second):
            proof = tree.consistency_proof(first, second)
            old, new = tree.root(first), tree.root(second)
            for other_second in range(2, 25):
                for other_first in range(1, other_second):
                    shape = ref_proof_shape(other_first, other_second)
                    same = shape == ref_proof_shape(first, second)
                    arguments = (other_first, other_second, old, new, proof)
                    assert passes(verify_consistency, *arguments) == same


# --- Properties against the reference. ---


@SLOW
@given(trees())
def test_tree_roots_equal_the_reference_for_every_size(
    built: tuple[list[bytes], MerkleTree],
) -> None:
    leaves, tree = built
    assert tree.size == len(leaves)
    assert [tree.leaf(index) for index in range(tree.size)] == leaves
    for size in range(len(leaves) + 1):
        assert tree.root(size) == ref_mth(leaves[:size]) == root_from_leaf_hashes(leaves[:size])


@SLOW
@given(inclusion_cases())
def test_every_inclusion_proof_equals_the_reference_and_verifies(case: tuple[Any, ...]) -> None:
    leaves, tree, index, size = case
    proof = tree.inclusion_proof(index, size)
    assert proof == ref_path(index, leaves[:size])
    assert len(proof) == inclusion_proof_length(index, size)
    assert root_from_inclusion_proof(index, size, leaves[index], proof) == tree.root(size)
    verify_inclusion(index, size, leaves[index], proof, tree.root(size))


@SLOW
@given(consistency_cases())
def test_every_consistency_proof_equals_the_reference_and_verifies(case: tuple[Any, ...]) -> None:
    leaves, tree, first, second = case
    proof = tree.consistency_proof(first, second)
    assert proof == ref_proof(first, leaves[:second])
    if 0 < first < second:
        assert len(proof) == consistency_proof_length(first, second)
    verify_consistency(first, second, tree.root(first), tree.root(second), proof)


@SLOW
@given(inclusion_cases(), st.data())
def test_a_mutated_inclusion_proof_fails_with_the_typed_error(
    case: tuple[Any, ...], data: st.DataObject
) -> None:
    leaves, tree, index, size = case
    proof, root = tree.inclusion_proof(index, size), tree.root(size)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        flipped = flip_bit(proof, at, data.draw(st.integers(0, 255)))
        with pytest.raises(RootMismatchError):
            verify_inclusion(index, size, leaves[index], flipped, root)
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaves[index], proof[:at] + proof[at + 1 :], root)
    at = data.draw(st.integers(0, len(proof)))
    extra = data.draw(st.sampled_from([root, leaves[index], *proof]))
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaves[index], [*proof[:at], extra, *proof[at:]], root)
    other_index = data.draw(st.integers(0, 2 * size).filter(lambda value: value != index))
    with pytest.raises(VERIFY_ERRORS):
        verify_inclusion(other_index, size, leaves[index], proof, root)
    other_size = data.draw(st.integers(1, 2 * size).filter(lambda value: value != size))
    if index < other_size and ref_path_shape(index, other_size) == ref_path_shape(index, size):
        verify_inclusion(index, other_size, leaves[index], proof, root)  # Undetectable: see above.
    else:
        with pytest.raises(VERIFY_ERRORS):
            verify_inclusion(index, other_size, leaves[index], proof, root)


@SLOW
@given(consistency_cases(), st.data())
def test_a_mutated_consistency_proof_fails_with_the_typed_error(
    case: tuple[Any, ...], data: st.DataObject
) -> None:
    _, tree, first, second = case
    proof, old, new = tree.consistency_proof(first, second), tree.root(first), tree.root(second)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        flipped = flip_bit(proof, at, data.draw(st.integers(0, 255)))
        with pytest.raises(RootMismatchError):
            verify_consistency(first, second, old, new, flipped)
        with pytest.raises(ProofError):
            verify_consistency(first, second, old, new, proof[:at] + proof[at + 1 :])
    at = data.draw(st.integers(0, len(proof)))
    extra = data.draw(st.sampled_from([old, new, *proof]))
    with pytest.raises(ProofError):
        verify_consistency(first, second, old, new, [*proof[:at], extra, *proof[at:]])
    if first != second:
        with pytest.raises(RootMismatchError):
            verify_consistency(first, second, new, old, proof)
    other_first = data.draw(st.integers(0, second).filter(lambda value: value != first))
    other_second = data.draw(st.integers(first, 2 * second).filter(lambda value: value != second))
    for wrong_first, wrong_second in ((other_first, second), (first, other_second)):
        # Undetectable by design: the empty tree is a prefix of every tree, and a
        # size pair with the same proof shape (see the signed-heads test above).
        from_empty = first == wrong_first == 0 < wrong_second
        shaped = 0 < wrong_first < wrong_second and 0 < first < second
        if from_empty or (
            shaped and ref_proof_shape(wrong_first, wrong_second) == ref_proof_shape(first, second)
        ):
            verify_consistency(wrong_first, wrong_second, old, new, proof)
        else:
            with pytest.raises(VERIFY_ERRORS):
                verify_consistency(wrong_first, wrong_second, old, new, proof)


# --- Scale, structure and preconditions. ---


def test_a_tree_of_100_000_leaves_gives_proofs_that_verify_at_historical_sizes() -> None:
    leaves = leaves_for(100_000)
    tree = MerkleTree()
    tree.extend(leaves[:65_537])
    for leaf in leaves[65_537:]:
        tree.append(leaf)
    rng = random.Random(6962)
    for size in (1, 2, 3, 65_535, 65_536, 65_537, 99_999, 100_000):
        assert tree.root(size) == root_from_leaf_hashes(leaves[:size])
    for _ in range(200):
        second = rng.randint(1, 100_000)
        first, index = rng.randint(0, second), rng.randrange(second)
        proof = tree.inclusion_proof(index, second)
        verify_inclusion(index, second, leaves[index], proof, tree.root(second))
        consistency = tree.consistency_proof(first, second)
        verify_consistency(first, second, tree.root(first), tree.root(second), consistency)


def test_split_point_is_the_largest_power_of_two_below_the_size() -> None:
    for size, split in ((2, 1), (3, 2), (7, 4), (8, 4), (9, 8), (63, 32), (28937, 16384)):
        assert split_point(size) == split == ref_split(size)
    with pytest.raises(MerkleInputError):
        split_point(1)


@pytest.mark.parametrize(
    "bad", [b"short", b"x" * 33, "a" * 32, bytearray(32)], ids=["short", "long", "str", "bytearray"]
)
def test_the_tree_accepts_only_32_byte_leaf_hashes(bad: Any) -> None:
    tree = MerkleTree(leaves_for(3))
    with pytest.raises(MerkleInputError):
        tree.append(bad)
    with pytest.raises(MerkleInputError):
        tree.extend([*leaves_for(2), bad])
    assert tree.size == 3
    assert tree.root() == ref_mth(leaves_for(3))


def test_the_tree_refuses_sizes_and_indexes_it_does_not_have() -> None:
    tree = MerkleTree(leaves_for(5))
    for call in (
        lambda: tree.root(6),
        lambda: tree.root(-1),
        lambda: tree.leaf(5),
        lambda: tree.inclusion_proof(0, 6),
        lambda: tree.inclusion_proof(5, 5),
        lambda: tree.inclusion_proof(0, 0),
        lambda: tree.consistency_proof(3, 2),
        lambda: tree.consistency_proof(2, 6),
    ):
        with pytest.raises(MerkleInputError) as caught:
            call()
        assert caught.value.tree_size == 5


@pytest.mark.parametrize(
    "arguments",
    [(-1, 4), (4, 4), (True, 4), (0, 2.0)],
    ids=["negative-index", "index-at-size", "bool-index", "float-size"],
)
def test_inclusion_verification_checks_index_and_size_before_hashing(
    arguments: tuple[Any, Any],
) -> None:
    index, size = arguments
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(b""), [], EMPTY_ROOT)


def test_consistency_verification_checks_root_lengths_before_hashing() -> None:
    with pytest.raises(ProofError):
        verify_consistency(1, 1, b"\x00" * 31, b"\x00" * 31, [])
    with pytest.raises(ProofError):
        verify_consistency(0, 3, EMPTY_ROOT, "e3b0" * 16, [])  # type: ignore[arg-type]
