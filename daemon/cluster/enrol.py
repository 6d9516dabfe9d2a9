"""One-time enrolment: a helper machine trades a token for its certificate.

The token, ``SECRET.PIN``, is tokens.py's: a one-time secret and the pin of the CA certificate.

The protocol is one JSON line each way over TLS, on the daemon's enrolment port:

- ``{"get": "ca"}`` -> ``{"ca": PEM}``: the CA certificate, to anyone (it is no secret);
- ``{"token_secret": S, "name": N, "csr": PEM}`` -> ``{"cert": PEM, "ca": PEM}``;
- anything wrong -> ``{"error": "one line"}``.
"""

from __future__ import annotations

import errno
import hmac
import json
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from shadowlens.daemon import clock
from shadowlens.daemon.cluster import certs
from shadowlens.daemon.cluster.files import ClusterFiles, ClusterSetupError, require, write_private
from shadowlens.daemon.cluster.tokens import PIN_DIGITS, TOKEN_PATTERN, consume_token

log = logging.getLogger(__name__)

MAX_REQUEST = 64 * 1024
READ_TIMEOUT = 10.0
# Each connection has a thread; beyond this many at once, new ones are closed unanswered.
MAX_CONNECTIONS = 8
TOKEN_REFUSED = (
    "the token is wrong, used or expired: run `shadowlens cluster token` on the daemon for a new one"
)


class EnrolmentError(ClusterSetupError):
    """Enrolment failed; the message is one line saying why."""


# -- the server, on the daemon's machine ---------------------------------------------------------


class _Refused(Exception):
    """A request answered with an error line."""


class _TooLarge(_Refused):
    pass


class _TLSServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], serve: Callable[[socket.socket, Any], None]) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self._serve = serve
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, socketserver.BaseRequestHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("enrolment: too many connections at once; closing one from %s", client_address)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        self._serve(request, client_address)


class EnrolmentServer:
    """Answers enrolment requests over TLS with the daemon's certificate, in a daemon thread.

    ``now`` gives the time tokens expire against: by default the project's clock, as for the
    `shadowlens cluster token` that issued them; tests pass their own.
    A bad request, a slow client or a failed handshake costs that connection only.
    """

    def __init__(
        self,
        files: ClusterFiles,
        host: str,
        port: int,
        now: Callable[[], float] | None = None,
        max_request: int = MAX_REQUEST,
        timeout: float = READ_TIMEOUT,
    ) -> None:
        self.files, self.host, self.port = files, host, port
        self.now = now or (lambda: clock.now().timestamp())
        self.max_request, self.timeout = max_request, timeout
        self._server: _TLSServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        require(self.files, self.files.ca_cert, self.files.ca_key, self.files.cert, self.files.key)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._context.load_cert_chain(self.files.cert, self.files.key)
        try:
            server = _TLSServer((self.host, self.port), self._serve)
        except OSError as exc:
            where = _where(self.host, self.port)
            raise ClusterSetupError(
                f"cannot listen for enrolments on {where}: {exc.strerror or exc}"
            ) from None
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="enrolment", daemon=True
        )
        self._thread.start()
        log.info("enrolment service listening on %s", _where(self.host, self.port))

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EnrolmentServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self, raw: socket.socket, peer: Any) -> None:
        raw.settimeout(self.timeout)
        try:
            tls = self._context.wrap_socket(raw, server_side=True)
        except (OSError, ValueError) as exc:
            log.info("enrolment: TLS handshake with %s failed: %s", peer, exc)
            return
        with tls:
            oversized = False
            try:
                reply = self._answer(_read_line(tls, self.max_request, self.timeout), peer)
            except _Refused as exc:
                reply, oversized = {"error": str(exc)}, isinstance(exc, _TooLarge)
            except ClusterSetupError as exc:
                reply = {"error": str(exc)}
            except (TimeoutError, ssl.SSLError, OSError) as exc:
                log.info("enrolment: reading from %s failed: %s", peer, exc)
                reply = {"error": "the request did not arrive in time, or not whole"}
            except Exception:
                log.exception("enrolment: request from %s failed", peer)
                reply = {"error": "internal error on the daemon (see its log)"}
            if "error" in reply:
                log.warning("enrolment: refused %s: %s", peer, reply["error"])
            try:
                tls.sendall(json.dumps(reply).encode() + b"\n")
                if oversized:
                    _drain(tls)  # closing with unread bytes resets the connection, losing the answer
            except OSError as exc:
                log.info("enrolment: answering %s failed: %s", peer, exc)

    def _answer(self, line: bytes, peer: Any) -> dict[str, str]:
        try:
            request = json.loads(line)
        except ValueError:
            raise _Refused("the request is not one line of JSON") from None
        if not isinstance(request, dict):
            raise _Refused("the request is not a JSON object")
        ca_pem = self.files.ca_cert.read_text("ascii")
        if request.get("get") == "ca":
            return {"ca": ca_pem}
        secret, name, csr = (request.get(key) for key in ("token_secret", "name", "csr"))
        if not (isinstance(secret, str) and isinstance(name, str) and isinstance(csr, str)):
            raise _Refused('the request needs "token_secret", "name" and "csr", all strings')
        certs.check_name(name)
        certs.check_csr(csr.encode("utf-8", "surrogateescape"))  # before the token is used up
        if not consume_token(self.files, secret, self.now()):
            raise _Refused(TOKEN_REFUSED)
        cert = certs.sign_csr(self.files, csr.encode(), name)
        log.warning("enrolment: worker %r enrolled from %s", name, peer)
        return {"cert": cert.decode("ascii"), "ca": ca_pem}


def _read_line(conn: socket.socket, limit: int, timeout: float) -> bytes:
    """One line, within ``limit`` bytes and ``timeout`` seconds in all (a trickle is cut off too)."""
    deadline = clock.monotonic() + timeout
    data = bytearray()
    while b"\n" not in data:
        if len(data) > limit:
            raise _TooLarge(f"the request is too large (over {limit} bytes)")
        left = deadline - clock.monotonic()
        if left <= 0:
            raise TimeoutError("read timed out")
        conn.settimeout(left)
        chunk = conn.recv(16384)
        if not chunk:
            break
        data += chunk
    line = bytes(data).split(b"\n", 1)[0]
    if len(line) > limit:
        raise _TooLarge(f"the request is too large (over {limit} bytes)")
    return line


def _drain(conn: socket.socket, most: int = 1 << 20) -> None:
    conn.settimeout(0.5)
    try:
        while most > 0 and (chunk := conn.recv(16384)):
            most -= len(chunk)
    except OSError:
        pass


# -- the client, on a worker machine ---------------------------------------------------------------


def parse_token(token: str) -> tuple[str, str]:
    """(secret, CA pin) from a token as `shadowlens cluster token` prints it."""
    match = TOKEN_PATTERN.match(token.strip())
    if match is None:
        raise EnrolmentError(
            "the token is malformed: copy it whole, as `shadowlens cluster token` printed it"
        )
    return match.group(1), match.group(2)


def enrol_worker(host: str, port: int, token: str, files: ClusterFiles, name: str) -> None:
    """Enrol this machine as worker ``name``: its key, certificate and the CA go into ``files``.

    The worker knows no CA yet, only the token's pin, and must not hand the secret to anyone but
    the daemon (a man in the middle could enrol with it). So it connects twice:

    1. TLS without verification, sending no secret: it asks for the CA certificate, and goes on
       only if the certificate's SHA-256 starts with the token's pin (128 bits: no one can make
       another certificate that matches).
    2. TLS verified by OpenSSL against exactly that CA (chain, dates, serverAuth), and with the
       daemon's subject, which no worker's certificate has; only then is the secret sent, with
       a CSR for a key made here, which never leaves this machine.

    Host names are not checked: workers often know the daemon by an address its certificate does
    not list, and the pinned CA, which signs only cluster members, is what identifies it. The
    answer is checked too: a certificate for this key, signed by that CA.
    """
    if files.role != "worker":
        raise ValueError("enrol_worker writes a worker's files: pass worker_files(paths)")
    secret, pin = parse_token(token)
    key_pem, csr_pem = certs.make_key_and_csr(name)
    where = _where(host, port)
    loose = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    loose.check_hostname = False
    loose.verify_mode = ssl.CERT_NONE
    ca_pem = _text(_exchange(host, port, loose, {"get": "ca"}), "ca", where).encode()
    if not hmac.compare_digest(certs.fingerprint(ca_pem)[:PIN_DIGITS], pin):
        raise EnrolmentError(
            f"the CA of {where} is not the one the token names: not enrolling "
            "(wrong host, a CA made again since the token, or someone in between)"
        )
    pinned = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    pinned.check_hostname = False
    pinned.load_verify_locations(cadata=ca_pem.decode())
    request = {"token_secret": secret, "name": name, "csr": csr_pem.decode()}
    reply = _exchange(host, port, pinned, request, expect_subject=certs.DAEMON_NAME)
    cert_pem = _text(reply, "cert", where).encode()
    if _text(reply, "ca", where).encode() != ca_pem:
        raise EnrolmentError(f"{where} answered with another CA than it showed: not enrolling")
    cert = certs.load_cert(cert_pem, "certificate the daemon sent")
    certs.check_issued(cert, certs.load_cert(ca_pem), "certificate the daemon sent")
    key = serialization.load_pem_private_key(key_pem, password=None)
    if cert.public_key() != key.public_key():
        raise EnrolmentError(f"{where} sent a certificate for another key: not enrolling")
    write_private(files.ca_cert, ca_pem)
    write_private(files.key, key_pem)
    write_private(files.cert, cert_pem)


def _exchange(
    host: str, port: int, context: ssl.SSLContext, request: dict[str, str], expect_subject: str | None = None
) -> dict[str, Any]:
    where = _where(host, port)
    try:
        raw = socket.create_connection((host, port), timeout=READ_TIMEOUT)
    except OSError as exc:
        reason = exc.strerror or errno.errorcode.get(exc.errno or 0) or str(exc) or type(exc).__name__
        raise EnrolmentError(f"cannot reach the enrolment service at {where}: {reason}") from None
    try:
        with context.wrap_socket(raw, server_hostname=None) as tls:
            if expect_subject is not None:
                _check_subject(tls, expect_subject, where)
            tls.sendall(json.dumps(request).encode() + b"\n")
            line = _read_line(tls, MAX_REQUEST, READ_TIMEOUT)
    except ssl.SSLCertVerificationError as exc:
        raise EnrolmentError(
            f"{where} has a certificate the token's CA did not sign ({exc.verify_message}): not enrolling"
        ) from None
    except (_Refused, OSError) as exc:
        raise EnrolmentError(f"the enrolment service at {where} failed: {exc}") from None
    finally:
        raw.close()
    try:
        reply = json.loads(line)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise EnrolmentError(f"{where} did not answer as a shadowlens enrolment service does")
    if "error" in reply:
        reason = " ".join(str(reply["error"]).split())[:300]  # the daemon's word, kept to one line
        raise EnrolmentError(f"{where} refused: {reason}")
    return reply


def _check_subject(tls: ssl.SSLSocket, expected: str, where: str) -> None:
    leaf = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True) or b"")
    names = [attribute.value for attribute in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if names != [expected]:
        raise EnrolmentError(f"{where} is a cluster member but not the daemon ({names}): not enrolling")


def _text(reply: dict[str, Any], key: str, where: str) -> str:
    value = reply.get(key)
    if not isinstance(value, str):
        raise EnrolmentError(f"{where} did not answer as a shadowlens enrolment service does (no {key!r})")
    return value


def _where(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
