"""The witness's HTTP endpoint: ``POST /add-checkpoint`` (c2sp.org/tlog-witness).

Built on the standard library's ``ThreadingHTTPServer``: the protocol is one small POST
(bodies are capped at 64 KiB), every request is answered from the store's own transaction,
and a witness is deployed by bodies that should not have to vet and patch a web framework;
HTTP/1.1 keep-alive is on, and TLS (optional) wraps the listening socket.
"""

from __future__ import annotations

import logging
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from services.witness.core import Answer, Witness
from tlog.witness_protocol import ADD_CHECKPOINT_PATH, MAX_REQUEST_BYTES

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a connection may stay silent (handshake included)
    server: WitnessHTTPServer

    def do_POST(self) -> None:
        if self.path.rstrip("/") != ADD_CHECKPOINT_PATH:
            self._send(Answer(404, b"not found\n"))
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(Answer(411, b"Content-Length required\n"))
            return
        if length < 0 or length > MAX_REQUEST_BYTES:
            self._send(Answer(413, b"request too large\n"))
            self.close_connection = True
            return
        body = self.rfile.read(length)
        try:
            answer = self.server.witness.add_checkpoint(body)
        except Exception:
            log.exception("add-checkpoint failed")
            answer = Answer(500, b"internal error\n")
        self._send(answer)

    def do_GET(self) -> None:
        self._send(Answer(405, b"use POST /add-checkpoint\n"))

    def _send(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)


class WitnessHTTPServer(ThreadingHTTPServer):
    """A threading HTTP(S) server answering add-checkpoint for one witness."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        witness: Witness,
        tls_cert: Path | None = None,
        tls_key: Path | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.witness = witness
        if tls_cert is not None and tls_key is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(str(tls_cert), str(tls_key))
            # The handshake runs in the request's thread (on first read), not in accept:
            # a slow or silent client cannot hold up the others.
            self.socket = context.wrap_socket(self.socket, server_side=True,
                                              do_handshake_on_connect=False)
        self.tls = tls_cert is not None

    @property
    def url(self) -> str:
        """Returns the base URL the server answers on (the submission prefix)."""
        host, port = self.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host!s}:{port}"

    def start(self) -> threading.Thread:
        """Serves in a daemon thread; returns it (stop with ``shutdown``)."""
        thread = threading.Thread(target=self.serve_forever, name="witness-http", daemon=True)
        thread.start()
        return thread


def parse_listen(listen: str) -> tuple[str, int]:
    """Returns (host, port) of ``HOST:PORT``."""
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"listen address {listen!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)
