"""Inclusion and consistency proofs (RFC 9162): every proof of a tree verifies against
its root, and any changed hash, index or size is refused."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from adapters.audit.merkle import Tree, leaf_hash
from adapters.audit.proofs import (
    consistency_path,
    inclusion_path,
    verify_consistency,
    verify_inclusion,
)

SIZES = st.integers(1, 40)


def tree(n: int) -> Tree:
    return Tree([leaf_hash(i.to_bytes(4, "big")) for i in range(n)])


@given(SIZES, st.data())
def test_every_inclusion_proof_verifies_and_a_changed_one_does_not(n, data):
    t = tree(n)
    size = data.draw(st.integers(1, n))
    i = data.draw(st.integers(0, size - 1))
    path = inclusion_path(t, i, size)
    root = t.root(size)
    assert verify_inclusion(t.leaves[i], i, size, path, root)
    assert not verify_inclusion(leaf_hash(b"forged"), i, size, path, root)
    if size > 1:
        assert not verify_inclusion(t.leaves[i], (i + 1) % size, size, path, root)
    if path:
        j = data.draw(st.integers(0, len(path) - 1))
        bad = [*path[:j], leaf_hash(b"x"), *path[j + 1:]]
        assert not verify_inclusion(t.leaves[i], i, size, bad, root)


@given(SIZES, st.data())
def test_every_consistency_proof_verifies_and_a_changed_one_does_not(n, data):
    t = tree(n)
    second = data.draw(st.integers(1, n))
    first = data.draw(st.integers(1, second))
    path = consistency_path(t, first, second)
    a, b = t.root(first), t.root(second)
    assert verify_consistency(first, second, a, b, path)
    assert not verify_consistency(first, second, leaf_hash(b"x"), b, path)
    if first < second:
        assert not verify_consistency(first, second, a, leaf_hash(b"x"), path)
        other = Tree([*t.leaves[:first - 1], leaf_hash(b"rewritten"), *t.leaves[first:]])
        assert not verify_consistency(first, second, other.root(first), b, path)
    if path:
        j = data.draw(st.integers(0, len(path) - 1))
        bad = [*path[:j], leaf_hash(b"x"), *path[j + 1:]]
        assert not verify_consistency(first, second, a, b, bad)


def test_rfc_shapes_of_small_proofs():
    t = tree(7)  # RFC 6962 §2.1.3's example tree of 7 leaves
    assert inclusion_path(t, 0, 7) == [t.leaves[1], t.hash(2, 2), t.hash(4, 3)]
    assert inclusion_path(t, 3, 7) == [t.leaves[2], t.hash(0, 2), t.hash(4, 3)]
    assert inclusion_path(t, 6, 7) == [t.hash(4, 2), t.hash(0, 4)]
    assert consistency_path(t, 3, 7) == [t.leaves[2], t.leaves[3], t.hash(0, 2), t.hash(4, 3)]
    assert consistency_path(t, 4, 7) == [t.hash(4, 3)]
    assert consistency_path(t, 6, 7) == [t.hash(4, 2), t.leaves[6], t.hash(0, 4)]
    assert consistency_path(t, 7, 7) == []
