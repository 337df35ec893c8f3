"""A fresh PostgreSQL database per benchmark case: ``POSTGRES_*`` when set, else pgserver."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote


@contextmanager
def postgres_urls(prefix: str = "bench_") -> Iterator[Callable[[], str]]:
    """Yields a function that returns the URL of a fresh PostgreSQL database."""
    import psycopg

    if os.environ.get("POSTGRES_HOST"):
        host, port = os.environ["POSTGRES_HOST"], os.environ.get("POSTGRES_PORT", "5432")
        user = os.environ.get("POSTGRES_USER", "postgres")
        password = os.environ.get("POSTGRES_PASSWORD", "")
        server = None
    else:
        import pgserver

        server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="bench-pg-")),
                                     cleanup_mode="delete")
        host, port, user, password = server.get_uri().split("host=", 1)[1], "5432", \
            "postgres", ""

    def fresh() -> str:
        name = prefix + uuid.uuid4().hex[:12]
        with psycopg.connect(host=host, port=port, user=user, password=password,
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        auth = quote(user) + (":" + quote(password) if password else "")
        if host.startswith("/"):
            return f"postgresql://{auth}@:{port}/{name}?host={quote(host)}"
        return f"postgresql://{auth}@{host}:{port}/{name}"

    try:
        yield fresh
    finally:
        if server is not None:
            server.cleanup()
