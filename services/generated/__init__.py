"""Generated code: do not edit. Regenerate with `make proto` (python -m services.codegen).

Python stubs of the valedger.v1 gRPC API (``proto/valedger/v1/*.proto``), importable as
``services.generated.valedger.v1.<file>_pb2`` and ``..._pb2_grpc``.
"""
