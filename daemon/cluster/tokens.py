"""One-time enrolment tokens, on the daemon's machine.

``shadowlens cluster token`` prints ``SECRET.PIN``: a random secret (192 bits) and the first
32 hex digits (128 bits) of the SHA-256 of the CA certificate. The daemon keeps only a SHA-256
of the secret and its expiry, in tokens.json; the secret has too much entropy for a slow hash
to add anything. A token is used once: consuming it removes it, expired ones are dropped.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shadowlens.daemon.cluster import certs
from shadowlens.daemon.cluster.files import ClusterFiles, ClusterSetupError, write_private
from shadowlens.daemon.paths import PRIVATE_FILE_MODE, ensure_private_dir

PIN_DIGITS = 32
TOKEN_PATTERN = re.compile(rf"([A-Za-z0-9_-]{{16,128}})\.([0-9a-f]{{{PIN_DIGITS}}})\Z")


def issue_token(files: ClusterFiles, now: float, valid_seconds: float) -> str:
    """A new one-time token, valid from ``now`` for ``valid_seconds``."""
    if valid_seconds <= 0:
        raise ValueError(f"valid_seconds must be positive, not {valid_seconds}")
    pin = certs.ca_fingerprint(files)[:PIN_DIGITS]  # no CA, no token: it could never be used
    secret = secrets.token_urlsafe(24)
    with _token_lock(files):
        entries = [entry for entry in _read_tokens(files) if entry["expires"] > now]
        entries.append({"sha256": _digest(secret), "expires": now + valid_seconds})
        write_private(files.tokens, json.dumps({"tokens": entries}).encode())
    return f"{secret}.{pin}"


def consume_token(files: ClusterFiles, secret: str, now: float) -> bool:
    """Whether ``secret`` is a pending token's; if so, it is used up."""
    digest = _digest(secret)
    with _token_lock(files):
        entries = _read_tokens(files)
        live = [entry for entry in entries if entry["expires"] > now]
        kept = [entry for entry in live if not hmac.compare_digest(entry["sha256"], digest)]
        if kept != entries:
            write_private(files.tokens, json.dumps({"tokens": kept}).encode())
        return len(kept) < len(live)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogateescape")).hexdigest()


@contextmanager
def _token_lock(files: ClusterFiles) -> Iterator[None]:
    """Serialise read-modify-write of tokens.json between the daemon's threads and the
    `cluster token` command: flock holds per open file, so threads exclude each other too."""
    ensure_private_dir(files.folder)
    fd = os.open(files.tokens.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, PRIVATE_FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _read_tokens(files: ClusterFiles) -> list[dict[str, Any]]:
    try:
        data = json.loads(files.tokens.read_bytes())
    except FileNotFoundError:
        return []
    except ValueError:
        data = None
    entries = data.get("tokens") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("sha256"), str) and isinstance(e.get("expires"), int | float)
        for e in entries
    ):
        raise ClusterSetupError(f"{files.tokens} is damaged: delete it (pending tokens are then void)")
    return entries
