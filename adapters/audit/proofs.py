"""Inclusion and consistency proofs (RFC 9162 §2.1.3–2.1.4; RFC 6962 §2.1.1–2.1.2), and
their verification: what lets one event, or an older head, be checked against a signed
head without the rest of the log."""

from __future__ import annotations

from adapters.audit.merkle import Tree, node_hash, split


def inclusion_path(tree: Tree, index: int, size: int) -> list[bytes]:
    """PATH(m, D[n]) of leaf `index` in the tree's first `size` leaves."""
    if not 0 <= index < size <= len(tree.leaves):
        raise ValueError(f"no leaf {index} in a tree of {size}")
    path: list[bytes] = []
    start, n, m = 0, size, index
    while n > 1:
        k = split(n)
        if m < k:
            path.append(tree.hash(start + k, n - k))
            n = k
        else:
            path.append(tree.hash(start, k))
            start, n, m = start + k, n - k, m - k
    return path[::-1]


def consistency_path(tree: Tree, first: int, second: int) -> list[bytes]:
    """PROOF(m, D[n]): the first `first` leaves are a prefix of the first `second`."""
    if not 0 < first <= second <= len(tree.leaves):
        raise ValueError(f"no consistency proof from {first} to {second}")
    path: list[bytes] = []
    start, n, m, whole = 0, second, first, True
    while m != n:
        k = split(n)
        if m <= k:
            path.append(tree.hash(start + k, n - k))
            n = k
        else:
            path.append(tree.hash(start, k))
            start, n, m, whole = start + k, n - k, m - k, False
    if not whole:
        path.append(tree.hash(start, n))
    return path[::-1]


def verify_inclusion(leaf: bytes, index: int, size: int, path: list[bytes],
                     root_hash: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       path: list[bytes]) -> bool:
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if first & (first - 1) == 0:
        path = [first_root, *path]
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return fr == first_root and sr == second_root and sn == 0
