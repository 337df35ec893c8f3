"""`valedger witness`: a C2SP tlog-witness that cosigns checkpoints of configured logs.

``config`` (TOML and flags: key, store, listen address, TLS, logs), ``store`` (the
witness's own SQLite file: the latest cosigned checkpoint of each log), ``core`` (the
checks and the atomic update, independent of HTTP) and ``http`` (the add-checkpoint
endpoint). It imports only ``tlog`` of ours besides this package.
"""
