"""Peak memory of a piece of code, measured in a fresh process with ``resource.getrusage``.

Linux carries a process's peak RSS across ``exec``: a child started straight from a pytest worker
holding models reports the worker's peak as its own. So a small launcher process starts the
measured one and reads its peak with RUSAGE_CHILDREN; the launcher's own peak is a few MB.
"""

from __future__ import annotations

import json
import subprocess
import sys

_LAUNCHER = """
import json, resource, subprocess, sys
run = subprocess.run([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps({"peak": peak, "code": run.returncode, "out": run.stdout, "err": run.stderr[-2000:]}))
"""


def peak_rss(code: str, *args: str, timeout: float = 300) -> tuple[int, str]:
    """(peak RSS in bytes, stdout) of ``python -c code args...``; fails on a non-zero exit."""
    launched = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, code, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )
    result = json.loads(launched.stdout)
    assert result["code"] == 0, result["err"]
    return int(result["peak"]), str(result["out"])
