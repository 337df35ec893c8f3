"""Structured logs are one JSON object per line with the extras a caller attached."""

from __future__ import annotations

import json
import logging

from services.logs import JsonFormatter


def test_record_becomes_one_json_line_with_extras() -> None:
    record = logging.makeLogRecord({
        "name": "valedger.server", "levelname": "WARNING", "levelno": logging.WARNING,
        "msg": "request %s refused", "args": ("r-1",), "method": "/valedger.v1.X/Y",
        "code": "PERMISSION_DENIED", "latency_ms": 1.5,
    })
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "request r-1 refused"
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "valedger.server"
    assert entry["method"] == "/valedger.v1.X/Y"
    assert entry["code"] == "PERMISSION_DENIED"
    assert entry["latency_ms"] == 1.5
    assert entry["time"].endswith("+00:00")


def test_exception_is_included_as_text() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.makeLogRecord({"msg": "failed", "exc_info": sys.exc_info()})
    entry = json.loads(JsonFormatter().format(record))
    assert "ValueError: boom" in entry["exception"]
