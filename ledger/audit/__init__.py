"""Tamper-evident audit log: RFC 9162 Merkle tree over the global log, signed checkpoints.

Modules: ``merkle`` (hashing and proofs), ``compact_range`` (incremental appends),
``leaf`` (canonical record encoding), ``note`` and ``checkpoint`` (C2SP signed notes),
``proof_bundle`` (C2SP tlog-proof bundles), ``store`` (tables in the ledger's database),
``follower`` (keeps the tree in step with the notification log), ``export`` and
``verify`` (offline verification). The file format is documented in docs/AUDIT-EXPORT.md.
"""
