"""The witness over real HTTP: cosigns a growing log, refuses everything the spec refuses,
keeps its state across restarts, and never cosigns both sides of a split view."""

from __future__ import annotations

import ssl
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from services.witness.core import Witness
from services.witness.http import WitnessHTTPServer
from services.witness.store import WitnessStore
from tests.services.witness.conftest import ORIGIN, ToyLog
from tlog.checkpoint import Checkpoint, sign_checkpoint
from tlog.cosignature import add_signatures, check_cosignatures
from tlog.hashes import EMPTY_ROOT
from tlog.keys import NoteSigner
from tlog.witness_client import (
    WitnessConflict,
    WitnessRefused,
    WitnessUnavailable,
    add_checkpoint,
)
from tlog.witness_protocol import AddCheckpoint


def cosigned(toy, witness_key, note, lines):
    check = check_cosignatures(add_signatures(note, lines), [witness_key.verifier])
    assert check.witnesses == {witness_key.verifier.label}
    return check


def test_cosigns_a_growing_log_and_persists_before_answering(witness_server, toy,
                                                             witness_key):
    url = witness_server.url
    for old, new in [(0, 3), (3, 3), (3, 17), (17, 40)]:
        req = toy.request(old, new)
        lines = add_checkpoint(url, req)
        cosigned(toy, witness_key, req.note, lines)
        state = witness_server.witness.store.state(ORIGIN)
        assert state is not None and state.size == new and state.note == req.note


def test_wrong_old_size_is_409_with_the_witness_size(witness_server, toy):
    add_checkpoint(witness_server.url, toy.request(0, 10))
    with pytest.raises(WitnessConflict) as e:
        add_checkpoint(witness_server.url, toy.request(5, 20))
    assert e.value.size == 10
    # The client can recover with the size it was told.
    add_checkpoint(witness_server.url, toy.request(e.value.size, 20))


def test_smaller_tree_is_refused(witness_server, toy):
    add_checkpoint(witness_server.url, toy.request(0, 20))
    with pytest.raises(WitnessRefused) as e:  # old above the checkpoint size
        add_checkpoint(witness_server.url, AddCheckpoint(20, (), toy.note(10)))
    assert e.value.status == 400
    with pytest.raises(WitnessConflict) as c:  # rollback to an older size
        add_checkpoint(witness_server.url, toy.request(10, 15))
    assert c.value.size == 20


def test_bad_log_signature_is_403(witness_server, toy):
    impostor = ToyLog(NoteSigner.generate(ORIGIN))
    impostor.grow(10)
    with pytest.raises(WitnessRefused) as e:
        add_checkpoint(witness_server.url, impostor.request(0, 10))
    assert e.value.status == 403
    forged = toy.note(10).replace("\n10\n", "\n11\n", 1)
    with pytest.raises(WitnessRefused) as e:
        add_checkpoint(witness_server.url, AddCheckpoint(0, (), forged))
    assert e.value.status == 403


def test_unknown_log_is_404(witness_server):
    other = ToyLog(NoteSigner.generate("other.test/log"))
    other.grow(3)
    with pytest.raises(WitnessRefused) as e:
        add_checkpoint(witness_server.url, other.request(0, 3))
    assert e.value.status == 404


def test_bad_consistency_proof_is_422(witness_server, toy):
    add_checkpoint(witness_server.url, toy.request(0, 7))
    req = toy.request(7, 30)
    bad = AddCheckpoint(7, (req.proof[0][::-1], *req.proof[1:]), req.note)
    with pytest.raises(WitnessRefused) as e:
        add_checkpoint(witness_server.url, bad)
    assert e.value.status == 422
    assert witness_server.witness.store.state(ORIGIN).size == 7


@pytest.mark.parametrize("body", [b"", b"old x\n\nfoo\n", b"old 1\n\nnot a note"])
def test_malformed_is_400(witness_server, body):
    req = urllib.request.Request(witness_server.url + "/add-checkpoint", data=body,
                                 method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 400


def test_split_view_is_refused_and_kept_as_evidence(witness_server, toy, log_key):
    # Two stores, one key: the log shows the witness one history, then another.
    other = ToyLog(log_key, prefix=b"forged")
    other.grow(40)
    add_checkpoint(witness_server.url, toy.request(0, 12))
    with pytest.raises(WitnessConflict):  # same size, other root
        add_checkpoint(witness_server.url, AddCheckpoint(12, (), other.note(12)))
    with pytest.raises(WitnessRefused) as e:  # larger, but not an extension
        add_checkpoint(witness_server.url, AddCheckpoint(12, toy.proof(12, 30),
                                                         other.note(30)))
    assert e.value.status == 422
    refused = witness_server.witness.store.refused(ORIGIN)
    assert [note for _, note in refused] == [other.note(12), other.note(30)]
    assert witness_server.witness.store.state(ORIGIN).note == toy.note(12)


def test_state_survives_a_restart(tmp_path, toy, log_key, witness_key):
    def serve():
        store = WitnessStore(tmp_path / "w.db")
        server = WitnessHTTPServer(("127.0.0.1", 0),
                                   Witness(witness_key, store, {ORIGIN: [log_key.verifier]}))
        server.start()
        return server, store

    server, store = serve()
    add_checkpoint(server.url, toy.request(0, 9))
    server.shutdown()
    server.server_close()
    store.close()
    server, store = serve()
    try:
        with pytest.raises(WitnessConflict) as e:
            add_checkpoint(server.url, toy.request(0, 9))
        assert e.value.size == 9
    finally:
        server.shutdown()
        server.server_close()
        store.close()


def test_witness_down_is_unavailable(toy):
    with pytest.raises(WitnessUnavailable):
        add_checkpoint("http://127.0.0.1:1", toy.request(0, 3), timeout=2)


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "w.crt", tmp_path / "w.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls(tmp_path, toy, log_key, witness_key):
    cert, key = _self_signed(tmp_path)
    store = WitnessStore(tmp_path / "w.db")
    server = WitnessHTTPServer(("127.0.0.1", 0),
                               Witness(witness_key, store, {ORIGIN: [log_key.verifier]}),
                               cert, key)
    server.start()
    try:
        assert server.url.startswith("https://")
        url = server.url.replace("127.0.0.1", "localhost")
        with pytest.raises(WitnessUnavailable):  # an untrusted certificate is refused
            add_checkpoint(url, toy.request(0, 3), timeout=5)
        context = ssl.create_default_context(cafile=str(cert))
        lines = add_checkpoint(url, toy.request(0, 3), context=context)
        cosigned(toy, witness_key, toy.note(3), lines)
    finally:
        server.shutdown()
        server.server_close()
        store.close()


def test_checkpoint_of_size_zero(witness_server, toy, log_key):
    empty = sign_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT), log_key)
    # The empty tree is recorded (old 0 = new 0), and the log grows from there.
    add_checkpoint(witness_server.url, AddCheckpoint(0, (), empty.note))
    add_checkpoint(witness_server.url, toy.request(0, 5))
