"""The ledger: domain model and the one global eventsourcing application."""
