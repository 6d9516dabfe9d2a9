"""The cluster's mutual TLS: the CA, one-time enrolment, and a real Dask scheduler refusing strangers.

Everything is real: files with their modes, TLS sockets on 127.0.0.1, Dask processes. Token
expiry runs on an injected "now"; certificate validity is the system clock's, as OpenSSL's is.
"""

from __future__ import annotations

import contextlib
import json
import operator
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from shadowlens.daemon.cluster.certs import (
    ca_fingerprint,
    check_issued,
    init_ca,
    load_cert,
    make_key_and_csr,
    sign_csr,
)
from shadowlens.daemon.cluster.enrol import EnrolmentError, EnrolmentServer, enrol_worker
from shadowlens.daemon.cluster.files import ClusterFiles, ClusterSetupError, security, write_private
from shadowlens.daemon.cluster.tokens import PIN_DIGITS, consume_token, issue_token

from tests.conftest import Env

NOW = 1_750_000_000.0  # every token's "now": no test reads the wall clock for expiry
LOCAL = "127.0.0.1"


class Now:
    """The enrolment server's clock, which a test moves by hand."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __call__(self) -> float:
        return self.value


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def daemon(tmp_path: Path) -> ClusterFiles:
    files = ClusterFiles(tmp_path / "nas" / "cluster", "daemon")
    init_ca(files, ["nas.local", "192.0.2.7"])
    return files


@pytest.fixture
def clock() -> Now:
    return Now(NOW)


@pytest.fixture
def server(daemon: ClusterFiles, clock: Now) -> Iterator[EnrolmentServer]:
    with EnrolmentServer(daemon, LOCAL, 0, clock, timeout=2.0) as running:
        yield running


def helper(tmp_path: Path, name: str = "helper") -> ClusterFiles:
    return ClusterFiles(tmp_path / name / "cluster-worker", "worker")


def ask(port: int, payload: bytes) -> dict[str, str]:
    """One raw exchange, as a stranger would make it: TLS, no verification."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((LOCAL, port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        tls.sendall(payload)
        data = b""
        while not data.endswith(b"\n"):
            chunk = tls.recv(4096)
            assert chunk, f"connection closed without an answer after {data!r}"
            data += chunk
    answer: dict[str, str] = json.loads(data)
    return answer


# -- the CA ---------------------------------------------------------------------------------------


def test_init_is_idempotent_private_and_keeps_the_ca(daemon: ClusterFiles) -> None:
    made = {path: path.read_bytes() for path in (daemon.ca_cert, daemon.ca_key, daemon.cert, daemon.key)}
    init_ca(daemon, ["nas.local"])
    assert {path: path.read_bytes() for path in made} == made, "a second init changes nothing"
    assert mode(daemon.folder) == 0o700
    assert {path.name: mode(path) for path in made} == {path.name: 0o600 for path in made}

    ca = load_cert(daemon.ca_cert.read_bytes())
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    assert ca.not_valid_after_utc - ca.not_valid_before_utc >= timedelta(days=3650)
    leaf = load_cert(daemon.cert.read_bytes())
    check_issued(leaf, ca, "daemon certificate")
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"nas.local", "localhost", socket.gethostname().lower()} <= set(
        names.get_values_for_type(x509.DNSName)
    )
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} == {"192.0.2.7", "127.0.0.1"}

    # A new name: the CA stays, the daemon's certificate is issued again with old and new names.
    init_ca(daemon, ["nas.example.org"])
    assert daemon.ca_cert.read_bytes() == made[daemon.ca_cert]
    again = load_cert(daemon.cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert {"nas.local", "nas.example.org"} <= set(again.value.get_values_for_type(x509.DNSName))

    issue_token(daemon, NOW, 60)
    before = ca_fingerprint(daemon)
    init_ca(daemon, [], force=True)
    assert ca_fingerprint(daemon) != before
    assert not daemon.tokens.exists(), "tokens pinned to the old CA are void"
    check_issued(load_cert(daemon.cert.read_bytes()), load_cert(daemon.ca_cert.read_bytes()), "daemon")


def test_bad_hosts_and_missing_files_are_one_line(tmp_path: Path, daemon: ClusterFiles) -> None:
    with pytest.raises(ClusterSetupError, match="neither a host name nor an IP address"):
        init_ca(ClusterFiles(tmp_path / "other"), ["nas local"])
    with pytest.raises(ClusterSetupError, match="run `shadowlens cluster init`"):
        security(ClusterFiles(tmp_path / "nothing"))
    with pytest.raises(ClusterSetupError, match="run `shadowlens worker --join HOST --token TOKEN`"):
        security(helper(tmp_path))
    daemon.ca_key.unlink()
    with pytest.raises(ClusterSetupError, match="only the daemon's machine holds the CA key"):
        sign_csr(daemon, make_key_and_csr("w1")[1], "w1")


# -- enrolment ------------------------------------------------------------------------------------


def test_a_token_enrols_once_and_only_once(
    tmp_path: Path, daemon: ClusterFiles, server: EnrolmentServer
) -> None:
    token = issue_token(daemon, NOW, 600)
    assert token.split(".")[1] == ca_fingerprint(daemon)[:PIN_DIGITS]
    assert token.split(".")[0] not in daemon.tokens.read_text(), "only a hash of the secret is stored"
    assert mode(daemon.tokens) == 0o600

    worker = helper(tmp_path)
    enrol_worker(LOCAL, server.port, token, worker, "helper-1")
    assert worker.ca_cert.read_bytes() == daemon.ca_cert.read_bytes()
    assert mode(worker.folder) == 0o700
    assert {mode(path) for path in (worker.cert, worker.key, worker.ca_cert)} == {0o600}

    with pytest.raises(EnrolmentError, match="wrong, used or expired"):
        enrol_worker(LOCAL, server.port, token, helper(tmp_path, "second"), "helper-2")
    assert not helper(tmp_path, "second").cert.exists()
    assert json.loads(daemon.tokens.read_text()) == {"tokens": []}


def test_the_issued_certificate_is_the_ca_s_for_both_ends_of_tls(
    tmp_path: Path, daemon: ClusterFiles, server: EnrolmentServer
) -> None:
    worker = helper(tmp_path)
    enrol_worker(LOCAL, server.port, issue_token(daemon, NOW, 600), worker, "helper-1")
    cert, ca = load_cert(worker.cert.read_bytes()), load_cert(daemon.ca_cert.read_bytes())
    check_issued(cert, ca, "worker certificate")
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "shadowlens worker helper-1"
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=365)
    key = serialization.load_pem_private_key(worker.key.read_bytes(), password=None)
    assert cert.public_key() == key.public_key()
    # OpenSSL agrees: the chain verifies for a client and for a server.
    for purpose in (ssl.Purpose.CLIENT_AUTH, ssl.Purpose.SERVER_AUTH):
        context = ssl.create_default_context(purpose, cafile=str(worker.ca_cert))
        context.load_cert_chain(worker.cert, worker.key)


def test_an_expired_token_is_refused_and_forgotten(
    tmp_path: Path, daemon: ClusterFiles, server: EnrolmentServer, clock: Now
) -> None:
    token = issue_token(daemon, NOW, 60)
    clock.value = NOW + 60
    with pytest.raises(EnrolmentError, match="wrong, used or expired"):
        enrol_worker(LOCAL, server.port, token, helper(tmp_path), "late")
    assert json.loads(daemon.tokens.read_text()) == {"tokens": []}
    assert not consume_token(daemon, token.split(".")[0], NOW)


def test_a_token_pinned_to_another_ca_is_refused_before_the_secret_is_sent(
    tmp_path: Path, daemon: ClusterFiles, server: EnrolmentServer
) -> None:
    other = ClusterFiles(tmp_path / "elsewhere" / "cluster")
    init_ca(other, [])
    secret = issue_token(daemon, NOW, 600).split(".")[0]
    forged = f"{secret}.{ca_fingerprint(other)[:PIN_DIGITS]}"
    worker = helper(tmp_path)
    with pytest.raises(EnrolmentError, match="is not the one the token names"):
        enrol_worker(LOCAL, server.port, forged, worker, "helper-1")
    assert not worker.folder.exists()
    assert consume_token(daemon, secret, NOW), "the secret never reached the server"


def test_bad_tokens_and_unreachable_hosts_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(EnrolmentError, match="the token is malformed"):
        enrol_worker(LOCAL, 1, "not-a-token", helper(tmp_path), "helper-1")
    with socket.socket() as probe:
        probe.bind((LOCAL, 0))
        closed = probe.getsockname()[1]
    token = "A" * 32 + "." + "0" * PIN_DIGITS
    with pytest.raises(EnrolmentError, match=f"cannot reach the enrolment service at {LOCAL}:{closed}"):
        enrol_worker(LOCAL, closed, token, helper(tmp_path), "helper-1")


def test_bad_requests_get_an_error_line_and_the_server_keeps_serving(
    tmp_path: Path, daemon: ClusterFiles, server: EnrolmentServer
) -> None:
    token = issue_token(daemon, NOW, 600)
    secret = token.split(".")[0]
    csr = make_key_and_csr("helper-1")[1].decode()
    refusals = {
        b"hello\n": "not one line of JSON",
        b"\xff\xfe\n": "not one line of JSON",
        b"[1, 2]\n": "not a JSON object",
        b'{"name": "x"}\n': '"token_secret", "name" and "csr"',
        b"x" * (100 * 1024) + b"\n": "too large",
        json.dumps({"token_secret": secret, "name": "../etc", "csr": csr}).encode() + b"\n": "worker name",
        json.dumps({"token_secret": secret, "name": "ok", "csr": "junk"}).encode() + b"\n": "not a PEM",
        json.dumps({"token_secret": "guess", "name": "ok", "csr": csr}).encode() + b"\n": "wrong, used",
    }
    for payload, reason in refusals.items():
        answer = ask(server.port, payload)
        assert set(answer) == {"error"} and reason in answer["error"], (payload[:40], answer)
        assert "\n" not in answer["error"]
    assert ask(server.port, b"x" * 5000)["error"].startswith("the request did not arrive in time")
    with socket.create_connection((LOCAL, server.port), timeout=5) as plain:
        plain.sendall(b"GET / HTTP/1.0\r\n\r\n")  # not TLS at all: closed, or reset, unanswered
        with contextlib.suppress(ConnectionResetError):
            assert plain.recv(100) == b""
    assert ask(server.port, b'{"get": "ca"}\n') == {"ca": daemon.ca_cert.read_text()}
    enrol_worker(LOCAL, server.port, token, helper(tmp_path), "helper-1")  # no refusal used it up


def test_the_cluster_commands_make_the_ca_and_print_a_token(env: Env) -> None:
    env.write_config('[cluster]\nlisten = "0.0.0.0:8786"\n')
    made = env.run("cluster", "init", "--host", "nas.local").stdout
    assert "created the cluster's CA" in made
    assert "kept the cluster's CA" in env.run("cluster", "init").stdout
    shown = env.run("cluster", "token", extra_env={"SHADOWLENS_NOW": "2025-06-15T12:00:00Z"}).stdout
    line = next(line for line in shown.splitlines() if "shadowlens worker --join" in line)
    assert line.split()[:4] == ["shadowlens", "worker", "--join", socket.gethostname()]
    token = line.split("--token ")[1]
    daemon = ClusterFiles(env.root / "data" / "shadowlens" / "cluster")
    assert token.split(".")[1] == ca_fingerprint(daemon)[:PIN_DIGITS]
    pinned = 1_749_988_800.0  # 2025-06-15T12:00:00Z: the command's "now" is the pinned clock's
    assert json.loads(daemon.tokens.read_text())["tokens"][0]["expires"] == pinned + 30 * 60
    assert consume_token(daemon, token.split(".")[0], pinned + 30 * 60 - 1)
    env.write_config("")
    refused = env.run("cluster", "token", check=False)
    assert refused.returncode == 2 and "the cluster is off" in refused.stderr


# -- a real Dask scheduler -----------------------------------------------------------------------

SCHEDULER = """
import asyncio, sys
from pathlib import Path
from distributed import Scheduler
from shadowlens.daemon.cluster.files import ClusterFiles, security

async def main():
    files = ClusterFiles(Path(sys.argv[1]), "daemon")
    # dashboard_address: the HTTP server starts even without a dashboard, by default on 8787
    async with Scheduler(host="127.0.0.1", port=0, protocol="tls", dashboard=False,
                         dashboard_address="127.0.0.1:0", security=security(files)) as scheduler:
        Path(sys.argv[2] + ".tmp").write_text(scheduler.address)
        Path(sys.argv[2] + ".tmp").rename(sys.argv[2])
        await scheduler.finished()

asyncio.run(main())
"""
WORKER = """
import asyncio, sys
from pathlib import Path
from distributed import Worker
from shadowlens.daemon.cluster.files import ClusterFiles, security

async def main():
    files = ClusterFiles(Path(sys.argv[2]), "worker")
    async with Worker(sys.argv[1], name=sys.argv[3], nthreads=1, host="127.0.0.1", dashboard=False,
                      dashboard_address="127.0.0.1:0", local_directory=sys.argv[4],
                      security=security(files)) as worker:
        await worker.finished()

asyncio.run(main())
"""


def _python(code: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    try:
        return subprocess.Popen([sys.executable, "-c", code, *args], stdout=handle, stderr=subprocess.STDOUT)
    finally:
        handle.close()


def _wait_for(path: Path, process: subprocess.Popen[bytes], seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert process.poll() is None, "the scheduler exited"
        assert time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.05)
    return path.read_text()


def _stranger(tmp_path: Path, daemon: ClusterFiles) -> ClusterFiles:
    """A worker that trusts the daemon's CA (no secret: anyone may fetch it) but holds a
    certificate from a CA of its own making."""
    own_ca = ClusterFiles(tmp_path / "rogue-ca")
    init_ca(own_ca, [])
    rogue = helper(tmp_path, "rogue")
    key_pem, csr_pem = make_key_and_csr("rogue")
    write_private(rogue.key, key_pem)
    write_private(rogue.cert, sign_csr(own_ca, csr_pem, "rogue"))
    shutil.copy(daemon.ca_cert, rogue.ca_cert)
    return rogue


def _talk_without_certificate(host: str, port: int, ca: Path) -> None:
    bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    bare.load_verify_locations(cafile=str(ca))
    bare.check_hostname = False
    with socket.create_connection((host, port), timeout=5) as raw, bare.wrap_socket(raw) as tls:
        tls.sendall(b"\0" * 8)  # TLS 1.3: the server's verdict on the client arrives after the handshake
        if not tls.recv(1):
            raise ConnectionResetError("closed")


@pytest.mark.timeout(90)
def test_a_real_scheduler_runs_an_enrolled_worker_and_refuses_a_stranger(
    tmp_path: Path, daemon: ClusterFiles, server: EnrolmentServer
) -> None:
    from distributed import Client

    worker = helper(tmp_path)
    enrol_worker(LOCAL, server.port, issue_token(daemon, NOW, 600), worker, "helper")
    rogue = _stranger(tmp_path, daemon)
    address_file = tmp_path / "scheduler-address"
    processes = [_python(SCHEDULER, str(daemon.folder), str(address_file), log=tmp_path / "scheduler.log")]
    try:
        address = _wait_for(address_file, processes[0], 20)
        assert address.startswith("tls://127.0.0.1:")
        # The stranger first, so that it has had as long as the member to get in.
        for name, files in (("rogue", rogue), ("helper", worker)):
            scratch = str(tmp_path / f"{name}-scratch")
            processes.append(
                _python(WORKER, address, str(files.folder), name, scratch, log=tmp_path / f"{name}.log")
            )

        # No certificate at all: the scheduler ends the handshake.
        host, port = address.removeprefix("tls://").rsplit(":", 1)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _talk_without_certificate(host, int(port), daemon.ca_cert)

        with Client(address, security=security(daemon), timeout=20) as client:
            client.wait_for_workers(1, timeout=20)
            assert client.submit(operator.add, 1, 2).result(timeout=20) == 3
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                names = {info["name"] for info in client.scheduler_info()["workers"].values()}
                assert names == {"helper"}, (tmp_path / "scheduler.log").read_text()[-2000:]
                time.sleep(0.25)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    # Refused by the scheduler, in the TLS handshake, for the reason each deserves.
    refusals = (tmp_path / "scheduler.log").read_text()
    assert "PEER_DID_NOT_RETURN_A_CERTIFICATE" in refusals
    assert "CERTIFICATE_VERIFY_FAILED" in refusals


def test_a_member_posing_as_the_daemon_gets_no_secret(
    tmp_path: Path, daemon: ClusterFiles, server: EnrolmentServer, clock: Now
) -> None:
    """A worker's certificate is signed by the same CA, but the client wants the daemon's subject,
    which enrolment never issues."""
    member = helper(tmp_path, "member")
    enrol_worker(LOCAL, server.port, issue_token(daemon, NOW, 600), member, "daemon")
    impostor = ClusterFiles(tmp_path / "impostor" / "cluster", "daemon")
    for source, target in ((member.cert, impostor.cert), (member.key, impostor.key)):
        write_private(target, source.read_bytes())
    for path in (daemon.ca_cert, daemon.ca_key):  # the key only so that the server starts at all
        write_private(impostor.folder / path.name, path.read_bytes())
    assert load_cert(impostor.cert.read_bytes()).subject != load_cert(daemon.cert.read_bytes()).subject
    token = issue_token(daemon, NOW, 600)
    with (
        EnrolmentServer(impostor, LOCAL, 0, clock) as fake,
        pytest.raises(EnrolmentError, match="not the daemon"),
    ):
        enrol_worker(LOCAL, fake.port, token, helper(tmp_path), "helper-1")
    assert consume_token(daemon, token.split(".")[0], NOW), "the secret never reached the impostor"
