"""Services layer: gRPC servicers, authorisation, CLI and server (composes ledger and verifier)."""
