"""RFC 6962 / RFC 9162 Merkle tree hashing and an append-only in-memory tree.

The ledger commits to its event log with a Certificate-Transparency style tree
so that anyone holding a signed (size, root) head can later check that an event
is in the log (inclusion) and that the log only ever grew (consistency). Using
the RFC's exact hashing keeps our heads checkable by existing CT tooling.

Hashing (RFC 6962 §2.1, RFC 9162 §2.1.1):

* ``leaf_hash(d) = SHA-256(0x00 || d)`` and ``node_hash(l, r) = SHA-256(0x01 || l || r)``;
  the distinct prefixes stop a leaf from being passed off as an inner node.
* ``MTH({}) = SHA-256()``; a tree of n > 1 leaves splits at the largest power of
  two k < n into a complete left subtree of k leaves and the rest on the right.

:class:`MerkleTree` keeps every complete subtree hash, level by level, so the
root of *any* earlier size and every proof need only O(log n) look-ups plus
O(log n) hashing along the ragged right edge. Verification lives apart, in
:mod:`crypto.proofs`, because verifiers must not need the tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from hashlib import sha256

from domain.errors import TaizhangError

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = sha256(b"").digest()


class MerkleInputError(TaizhangError):
    """A precondition of the tree failed: a malformed hash or a size/index outside the tree.

    These are caller bugs, not evidence of tampering; the numbers involved are
    attributes so callers can report them without parsing the message.
    """

    code = "merkle_input"

    def __init__(
        self,
        message: str,
        *,
        index: int | None = None,
        size: int | None = None,
        tree_size: int | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.size = size
        self.tree_size = tree_size


def leaf_hash(data: bytes) -> bytes:
    """Hash one log entry as a leaf: SHA-256(0x00 || data)."""
    return sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash two child hashes into their parent: SHA-256(0x01 || left || right)."""
    return sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """The largest power of two strictly below ``size`` (size >= 2): where RFC 6962 splits."""
    if size < 2:
        raise MerkleInputError(f"a tree of size {size} has no split point", size=size)
    return 1 << ((size - 1).bit_length() - 1)


def _parents(level: bytes | bytearray, start: int, stop: int) -> bytes:
    """Concatenated parent hashes of the adjacent pairs ``start..stop`` of a packed level.

    A level is stored as one buffer of 32-byte hashes, so the 64 bytes of a pair
    are already ``left || right``: one slice and one SHA-256 call per parent.
    """
    view = memoryview(level)
    return b"".join(
        [
            sha256(NODE_PREFIX + view[offset : offset + 2 * HASH_SIZE]).digest()
            for offset in range(start * 2 * HASH_SIZE, stop * 2 * HASH_SIZE, 2 * HASH_SIZE)
        ]
    )


def _pack(hashes: Iterable[bytes]) -> bytes:
    """Join leaf hashes into one buffer after checking each is a 32-byte ``bytes``."""
    items = hashes if isinstance(hashes, list | tuple) else list(hashes)
    if set(map(type, items)) - {bytes} or set(map(len, items)) - {HASH_SIZE}:
        raise MerkleInputError(f"leaf hashes must be {HASH_SIZE}-byte bytes values")
    return b"".join(items)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH over already-hashed leaves, without building a :class:`MerkleTree`.

    Pairs each level bottom-up and lifts a lone last node unchanged, which
    yields exactly the RFC's largest-power-of-two split (the tree is
    left-complete), in O(n) hashing with no recursion.
    """
    level = _pack(hashes)
    if not level:
        return EMPTY_ROOT
    while len(level) > HASH_SIZE:
        count = len(level) // HASH_SIZE
        carried = level[(count - 1) * HASH_SIZE :] if count % 2 else b""
        level = _parents(level, 0, count // 2) + carried
    return bytes(level)


class MerkleTree:
    """An append-only RFC 6962 tree over leaf hashes that answers for every size it has had.

    ``_levels[k]`` packs the hashes of all complete subtrees of 2**k leaves in
    order (level 0 holds the leaf hashes), so node ``(k, j)`` covers leaves
    ``[j * 2**k, (j + 1) * 2**k)``. Nodes never change once complete, which is
    why historical roots and proofs are plain look-ups. Memory is about twice
    the leaf hashes (32 bytes per node, no per-object overhead). Not
    thread-safe: guard appends and reads with one lock if shared.
    """

    __slots__ = ("_levels",)

    def __init__(self, hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self.extend(hashes)

    @property
    def size(self) -> int:
        """The number of leaves appended so far."""
        return len(self._levels[0]) // HASH_SIZE

    def append(self, leaf: bytes) -> int:
        """Add one leaf hash; return its index. Amortised one node hash per leaf."""
        if type(leaf) is not bytes or len(leaf) != HASH_SIZE:
            raise MerkleInputError(f"a leaf hash must be {HASH_SIZE} bytes")
        index = self.size
        levels = self._levels
        levels[0] += leaf
        level, count = 0, index + 1
        while count % 2 == 0:
            parent = sha256(NODE_PREFIX + levels[level][-2 * HASH_SIZE :]).digest()
            if level + 1 == len(levels):
                levels.append(bytearray())
            levels[level + 1] += parent
            level, count = level + 1, count // 2
        return index

    def extend(self, hashes: Iterable[bytes]) -> None:
        """Add many leaf hashes at once, hashing each level's new pairs in one pass."""
        packed = _pack(hashes)
        if not packed:
            return
        levels = self._levels
        levels[0] += packed
        level = 0
        while len(levels[level]) >= 2 * HASH_SIZE:
            if level + 1 == len(levels):
                levels.append(bytearray())
            done = len(levels[level + 1]) // HASH_SIZE
            ready = len(levels[level]) // (2 * HASH_SIZE)
            if ready == done:
                break
            levels[level + 1] += _parents(levels[level], done, ready)
            level += 1

    def leaf(self, index: int) -> bytes:
        """The leaf hash at ``index``."""
        self._check_index(index, self.size)
        return self._node(0, index)

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (default: all), for any size up to the current one."""
        size = self.size if size is None else size
        self._check_size(size)
        return self._range_hash(0, size)

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 §2.1.1: sibling hashes from the leaf upward."""
        self._check_size(size)
        self._check_index(index, size)
        path: list[bytes] = []
        low, high = 0, size
        while high - low > 1:
            middle = low + split_point(high - low)
            if index < middle:
                path.append(self._range_hash(middle, high))
                high = middle
            else:
                path.append(self._range_hash(low, middle))
                low = middle
        path.reverse()
        return path

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """PROOF(first, D[0:second]) of RFC 6962 §2.1.2 (SUBPROOF with b = true at the top).

        Empty when ``first`` is 0 or equals ``second``: there is nothing to prove
        (see :func:`crypto.proofs.verify_consistency` for how those are checked).
        """
        self._check_size(second)
        if not 0 <= first <= second:
            raise MerkleInputError(
                f"consistency needs 0 <= first <= second, got {first} and {second}",
                size=second,
                index=first,
                tree_size=self.size,
            )
        proof: list[bytes] = []
        if first in (0, second):
            return proof
        low, high, first_is_whole = 0, second, True
        while first != high:
            middle = low + split_point(high - low)
            if first <= middle:
                proof.append(self._range_hash(middle, high))
                high = middle
            else:
                proof.append(self._range_hash(low, middle))
                low, first_is_whole = middle, False
        if not first_is_whole:
            proof.append(self._range_hash(low, high))
        proof.reverse()
        return proof

    def _node(self, level: int, position: int) -> bytes:
        start = position * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def _range_hash(self, low: int, high: int) -> bytes:
        """MTH of leaves ``[low, high)`` where ``low`` is aligned to a power of two >= the width.

        Every subtree the RFC recursion visits has that shape, so the range is a
        run of complete subtrees of strictly decreasing size (one per set bit of
        the width); they fold right to left exactly as the split rule nests them.
        """
        width = high - low
        if width == 0:
            return EMPTY_ROOT
        peaks: list[bytes] = []
        position = low
        for level in range(width.bit_length() - 1, -1, -1):
            if width >> level & 1:
                peaks.append(self._node(level, position >> level))
                position += 1 << level
        result = peaks.pop()
        while peaks:
            result = node_hash(peaks.pop(), result)
        return result

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise MerkleInputError(
                f"size {size} is outside the tree of {self.size} leaves",
                size=size,
                tree_size=self.size,
            )

    def _check_index(self, index: int, size: int) -> None:
        if not 0 <= index < size:
            raise MerkleInputError(
                f"index {index} is outside a tree of size {size}",
                index=index,
                size=size,
                tree_size=self.size,
            )
