"""Generated code: do not edit. Regenerate with `make proto` (python -m services.codegen) from proto/valedger/v1/*.proto."""
