"""Tamper-evident audit log: RFC 9162 Merkle tree over the global log, signed checkpoints.

The primitives (tree hashing, proofs, compact ranges, signed notes, checkpoints,
cosignatures, proof bundles) live in the standalone package ``tlog``. Here: ``leaf``
(canonical record encoding), ``proof_bundle`` (bundles of ledger records), ``store``
(tables in the ledger's database), ``follower`` (keeps the tree in step with the
notification log), ``log`` (proofs and bundles of one store), ``export`` and ``verify``
(offline verification), ``restore`` and ``replay``. The file format is documented in
docs/AUDIT-EXPORT.md.
"""
