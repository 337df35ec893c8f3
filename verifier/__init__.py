"""Mining-proof verifier: a pure library that imports nothing else of valedger."""
