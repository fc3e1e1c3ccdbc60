"""RFC 6962 Merkle tree hashing against the published test vectors (the inputs and roots
of certificate-transparency's and trillian's tests), and prefixes of one tree."""

from __future__ import annotations

from hashlib import sha256

from hypothesis import given
from hypothesis import strategies as st

from adapters.audit.merkle import EMPTY_ROOT, Tree, leaf_hash, node_hash, root, split

INPUTS = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
          bytes(range(0x50, 0x58)), bytes(range(0x60, 0x70))]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def test_empty_tree_is_the_hash_of_nothing():
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root([]) == EMPTY_ROOT


def test_leaf_and_node_prefixes():
    assert leaf_hash(b"") == sha256(b"\x00").digest()
    assert node_hash(b"a", b"b") == sha256(b"\x01ab").digest()
    assert [split(n) for n in (2, 3, 4, 5, 8, 9)] == [1, 2, 2, 4, 4, 8]


def test_rfc6962_vectors_for_every_prefix():
    tree = Tree([leaf_hash(d) for d in INPUTS])
    assert [tree.root(n).hex() for n in range(1, 9)] == ROOTS
    for n in range(1, 9):  # a fresh tree of n leaves agrees with the prefix of the big one
        assert root([leaf_hash(d) for d in INPUTS[:n]]).hex() == ROOTS[n - 1]


def reference(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 written out literally."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node_hash(reference(leaves[:k]), reference(leaves[k:]))


@given(st.lists(st.binary(max_size=8), max_size=70), st.data())
def test_cached_prefix_roots_equal_the_definition(items, data):
    leaves = [leaf_hash(i) for i in items]
    tree = Tree(leaves)
    for n in data.draw(st.lists(st.integers(0, len(leaves)), max_size=6)):
        assert tree.root(n) == reference(leaves[:n])
    assert tree.root() == reference(leaves)
