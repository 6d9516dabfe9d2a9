"""Where the cluster's certificates, keys and tokens live, and the Dask security they make.

The daemon's machine holds the CA (certificate and key), its own certificate and the pending
enrolment tokens under ``<data>/cluster``; a worker machine holds the CA certificate and its
own certificate under ``<data>/cluster-worker``, so that one machine can be both. Every file is
written 0600 in a 0700 folder: the keys are what a worker's right to receive photos rests on.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from shadowlens.daemon.paths import PRIVATE_FILE_MODE, AppPaths, ensure_private_dir

if TYPE_CHECKING:
    from distributed import Security

Role = Literal["daemon", "worker"]

INIT_HINT = "run `shadowlens cluster init` on the daemon's machine"
JOIN_HINT = (
    "run `shadowlens worker --join HOST --token TOKEN` (the token comes from `shadowlens cluster token`)"
)


class ClusterSetupError(Exception):
    """A cluster file is missing or unusable, a token or certificate is refused: one line."""


@dataclass(frozen=True)
class ClusterFiles:
    folder: Path
    # Whose identity ``cert``/``key`` are: the daemon (also the CA's holder) or a worker.
    role: Role = "daemon"

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        """Only on the daemon's machine."""
        return self.folder / "ca-key.pem"

    @property
    def cert(self) -> Path:
        return self.folder / f"{self.role}.pem"

    @property
    def key(self) -> Path:
        return self.folder / f"{self.role}-key.pem"

    @property
    def tokens(self) -> Path:
        """Only on the daemon's machine."""
        return self.folder / "tokens.json"

    @property
    def hint(self) -> str:
        return INIT_HINT if self.role == "daemon" else JOIN_HINT


def daemon_files(paths: AppPaths) -> ClusterFiles:
    return ClusterFiles(paths.data_dir / "cluster", "daemon")


def worker_files(paths: AppPaths) -> ClusterFiles:
    return ClusterFiles(paths.data_dir / "cluster-worker", "worker")


def require(files: ClusterFiles, *needed: Path) -> None:
    """Raise one line naming the first missing file and the command that makes it."""
    for path in needed or (files.ca_cert, files.cert, files.key):
        if not path.is_file():
            raise ClusterSetupError(f"{path} is missing: {files.hint}")


def security(files: ClusterFiles) -> Security:
    """Mutual TLS for every role this machine plays: the scheduler and the client on the daemon's
    machine, the worker (which also listens, for the other workers and the client) on a helper.

    Each side presents this machine's certificate and accepts only peers whose certificate the
    cluster's CA signed; plain TCP is refused. Dask checks no host names (workers are often
    reached by IP address): the private CA, which signs nothing but cluster members, is the check.
    """
    from distributed import Security  # 0.3 s of imports that certificates and tokens do not need

    require(files)
    cert, key = str(files.cert), str(files.key)
    return Security(  # type: ignore[no-untyped-call]  # distributed leaves __init__ unannotated
        require_encryption=True,
        tls_ca_file=str(files.ca_cert),
        tls_client_cert=cert,
        tls_client_key=key,
        tls_scheduler_cert=cert,
        tls_scheduler_key=key,
        tls_worker_cert=cert,
        tls_worker_key=key,
    )


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically, 0600 from the first byte: a reader (another
    process, a crash halfway) sees the old file or the new one, never a part, never readable by others."""
    ensure_private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, PRIVATE_FILE_MODE)  # O_CREAT's mode does not apply to a leftover file
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def tls_options(files: ClusterFiles) -> list[str]:
    """This machine's TLS files as `dask scheduler` and `dask worker` take them."""
    return ["--tls-ca-file", str(files.ca_cert), "--tls-cert", str(files.cert), "--tls-key", str(files.key)]
