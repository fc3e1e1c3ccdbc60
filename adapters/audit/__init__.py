"""Tamper-evident audit log (防篡改审计日志): every stored event a leaf of an RFC 6962
Merkle tree, signed tree heads (Ed25519), and `verify` against the live event table."""
