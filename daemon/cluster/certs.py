"""The cluster's private CA and the certificates it signs, made with ``cryptography``.

One CA per daemon, made by ``shadowlens cluster init``; it signs the daemon's certificate and,
through enrolment, one certificate per worker, and nothing else: being signed by it is what makes
a machine a member of the cluster. Keys are EC P-256 (small, fast, what every TLS stack takes).

Validity comes from the system clock, not ``clock.now()``: OpenSSL checks it against the system
clock, which ``SHADOWLENS_NOW`` does not move.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import socket
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from shadowlens.daemon import clock
from shadowlens.daemon.cluster.files import ClusterFiles, ClusterSetupError, require, write_private

CA_NAME = "shadowlens cluster CA"
# The enrolment client accepts only this subject: a worker's certificate, signed by the same CA,
# must not pass for the daemon's (see ``worker_subject``).
DAEMON_NAME = "shadowlens daemon"
CA_DAYS = 3650
DAEMON_DAYS = 3650
WORKER_DAYS = 365
# Certificates start an hour back, so that a worker whose clock is a little behind the daemon's
# does not refuse one as "not yet valid".
BACKDATE = timedelta(hours=1)
_WORKER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}\Z")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)\Z")

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def check_name(name: str) -> str:
    """A worker's name, as it appears in its certificate and the daemon's log."""
    if not _WORKER_NAME.match(name):
        raise ClusterSetupError(
            f"worker name {name[:80]!r} is not 1-63 letters, digits, '.', '_' or '-' starting with a letter or digit"
        )
    return name


def worker_subject(name: str) -> str:
    return f"shadowlens worker {check_name(name)}"


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 of the certificate's DER, in hex."""
    return load_cert(cert_pem).fingerprint(hashes.SHA256()).hex()


def ca_fingerprint(files: ClusterFiles) -> str:
    require(files, files.ca_cert)
    return fingerprint(files.ca_cert.read_bytes())


def load_cert(pem: bytes, what: str = "certificate") -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise ClusterSetupError(f"the {what} is not a PEM certificate") from None


def check_issued(leaf: x509.Certificate, ca: x509.Certificate, what: str) -> None:
    """Raise one line unless the CA's key signed ``leaf``."""
    try:
        leaf.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise ClusterSetupError(f"the {what} was not issued by the cluster's CA") from None


def check_csr(csr_pem: bytes) -> x509.CertificateSigningRequest:
    """A request signed by the key it carries (so the requester holds that key), of a kind TLS takes."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem)
    except ValueError:
        raise ClusterSetupError("the csr is not a PEM certificate signing request") from None
    if not csr.is_signature_valid:
        raise ClusterSetupError("the csr's signature does not match its key")
    key = csr.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1 | ec.SECP384R1):
        return csr
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= 2048:
        return csr
    raise ClusterSetupError("the csr's key must be EC P-256/P-384 or RSA of at least 2048 bits")


def make_key_and_csr(name: str) -> tuple[bytes, bytes]:
    """A new worker key and a request for its certificate, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, worker_subject(name))])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return _key_pem(key), csr.public_bytes(serialization.Encoding.PEM)


def sign_csr(files: ClusterFiles, csr_pem: bytes, name: str) -> bytes:
    """A worker certificate for the CSR's key, PEM. The subject is ours, from ``name``: nothing
    else in the request is copied, so a requester cannot ask to be the daemon or a CA."""
    subject = worker_subject(name)
    csr = check_csr(csr_pem)
    ca, ca_key = _load_ca(files)
    cert = _leaf(subject, csr.public_key(), ca, ca_key, WORKER_DAYS, hosts=[])
    return cert.public_bytes(serialization.Encoding.PEM)


def init_ca(files: ClusterFiles, hosts: list[str], force: bool = False) -> None:
    """Make the CA and the daemon's certificate, keeping what is there and still right.

    An existing CA is kept unless ``force``: a new one voids every worker's certificate and every
    pending token. The daemon's certificate is issued again only when it is missing, was not
    signed by the CA, or lacks one of the names asked for (it then keeps its old names too).
    """
    names = _alt_names([*hosts, "localhost", "127.0.0.1"])
    # An odd machine name is no reason to stop: the names given are in.
    with contextlib.suppress(ClusterSetupError):
        names += [name for name in _alt_names([socket.gethostname()]) if name not in names]
    if force or not files.ca_cert.is_file():
        ca, ca_key = _new_ca(files)
        files.tokens.unlink(missing_ok=True)
    else:
        ca, ca_key = _load_ca(files)
    if files.cert.is_file() and files.key.is_file():
        current = load_cert(files.cert.read_bytes(), f"daemon certificate {files.cert}")
        try:
            check_issued(current, ca, "daemon certificate")
        except ClusterSetupError:
            pass
        else:
            had = _names_of(current)
            if all(name in had for name in names) and current.not_valid_after_utc > _now() + BACKDATE:
                return
            names = [*had, *(name for name in names if name not in had)]
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _leaf(DAEMON_NAME, key.public_key(), ca, ca_key, DAEMON_DAYS, names)
    write_private(files.key, _key_pem(key))
    write_private(files.cert, cert.public_bytes(serialization.Encoding.PEM))


def _now() -> datetime:
    # The project's clock, as everywhere; certificates are checked against the real one, which
    # it is unless a test pins it.
    return clock.now()


def _key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _alt_names(hosts: list[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        name = _alt_name(host.strip().removeprefix("[").removesuffix("]"))
        if name not in names:
            names.append(name)
    return names


def _alt_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if len(host) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        raise ClusterSetupError(f"{host[:80]!r} is neither a host name nor an IP address")
    return x509.DNSName(host.rstrip(".").lower())


def _names_of(cert: x509.Certificate) -> list[x509.GeneralName]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value)
    except x509.ExtensionNotFound:
        return []


def _new_ca(files: ClusterFiles) -> tuple[x509.Certificate, PrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    start = _now() - BACKDATE
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=CA_DAYS))
        # path_length=0: the CA signs leaves only, never another CA
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, hashes.SHA256())
    )
    # The key first: a CA certificate is never there without its key.
    write_private(files.ca_key, _key_pem(key))
    write_private(files.ca_cert, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _load_ca(files: ClusterFiles) -> tuple[x509.Certificate, PrivateKey]:
    require(files, files.ca_cert)
    if not files.ca_key.is_file():
        raise ClusterSetupError(
            f"{files.ca_key} is missing: only the daemon's machine holds the CA key "
            "(`shadowlens cluster init --force` makes a new CA; every worker must then enrol again)"
        )
    ca = load_cert(files.ca_cert.read_bytes(), f"CA certificate {files.ca_cert}")
    try:
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise ClusterSetupError(f"{files.ca_key} is not an unencrypted PEM private key") from None
    if not isinstance(key, PrivateKey) or key.public_key() != ca.public_key():
        raise ClusterSetupError(f"{files.ca_key} is not the key of {files.ca_cert}")
    return ca, key


def _key_usage(ca: bool, rsa_key: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not ca,
        content_commitment=False,
        key_encipherment=rsa_key,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _leaf(
    subject: str,
    public_key: CertificatePublicKeyTypes,
    ca: x509.Certificate,
    ca_key: PrivateKey,
    days: int,
    hosts: list[x509.GeneralName],
) -> x509.Certificate:
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise ClusterSetupError("only EC and RSA keys can be certified")
    start = _now() - BACKDATE
    # Never past the CA's own end: a chain is only as valid as its shortest link.
    end = min(start + timedelta(days=days), ca.not_valid_after_utc)
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False, rsa_key=isinstance(public_key, rsa.RSAPublicKey)), critical=True)
        # Both: the daemon is the scheduler (a server) and the client; a worker connects to the
        # scheduler and also listens, for the client and the other workers.
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName(hosts), critical=False)
    return builder.sign(ca_key, hashes.SHA256())
