"""Structured JSON logs: one object per line on stderr, safe to ship to any collector.

Messages never carry key material: callers log ids, fingerprints and counts only.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message"}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object: time, level, logger, message and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value if isinstance(value, (int, float, bool, type(None))) \
                    else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_json_logging(level: str = "INFO", fields: dict[str, Any] | None = None) -> None:
    """Routes the root logger to stderr as JSON lines at ``level``, each line carrying
    ``fields`` too (a worker of ``serve --processes N`` names itself)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    if fields:
        handler.addFilter(_Fields(fields))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


class _Fields(logging.Filter):
    """Adds fixed fields to every record."""

    def __init__(self, fields: dict[str, Any]) -> None:
        super().__init__()
        self.fields = dict(fields)

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in self.fields.items():
            setattr(record, key, value)
        return True
