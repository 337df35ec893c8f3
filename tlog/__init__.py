"""Transparency-log primitives: a pure library that imports nothing else of valedger.

RFC 9162 Merkle tree hashing (``hashes``), proof plans over stored subtrees (``nodes``),
inclusion and consistency proofs (``inclusion``, ``consistency``), incremental appends
(``compact_range``), C2SP signed notes and their keys (``keys``, ``note``), checkpoints
(``checkpoint``), cosignatures (``cosignature``), the tlog-witness wire format and client
(``witness_protocol``, ``witness_client``), tlog-proof bundles (``proof_bundle``) and a
transport-free monitor (``monitor``). Every error raised is a
subclass of :class:`tlog.errors.TlogError`. Only the standard library and ``cryptography``
are imported, so a witness or an outside auditor needs nothing else of ours.
"""
