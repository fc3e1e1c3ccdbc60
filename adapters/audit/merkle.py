"""RFC 6962 (§2.1) Merkle tree hashing: leaf = SHA-256(0x00 ‖ data),
node = SHA-256(0x01 ‖ left ‖ right), split at the largest power of two below n.

`Tree` caches the hashes of perfect (power-of-two, aligned) subtrees, so the roots of
many prefixes (every stored head) cost one pass over the leaves in all."""

from __future__ import annotations

from hashlib import sha256

EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two strictly below n (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class Tree:
    """The Merkle tree hash (MTH) of prefixes of a list of leaf hashes."""

    def __init__(self, leaves: list[bytes]):
        self.leaves = leaves
        self.perfect: dict[tuple[int, int], bytes] = {}

    def root(self, size: int | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        if not 0 <= size <= len(self.leaves):
            raise ValueError(f"tree of {len(self.leaves)} leaves has no prefix of {size}")
        return self.hash(0, size) if size else EMPTY_ROOT

    def hash(self, start: int, n: int) -> bytes:
        if n == 1:
            return self.leaves[start]
        if n & (n - 1) == 0:  # a perfect subtree: the same in every larger tree
            key = (start, n)
            if key not in self.perfect:
                half = n // 2
                self.perfect[key] = node_hash(self.hash(start, half),
                                              self.hash(start + half, half))
            return self.perfect[key]
        k = split(n)
        return node_hash(self.hash(start, k), self.hash(start + k, n - k))


def root(leaves: list[bytes]) -> bytes:
    return Tree(leaves).root()
