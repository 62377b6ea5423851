"""A disk whose flushes take as long as the issue's: for ``shared_store --fsync-ms``.

On this machine an ``fdatasync`` of one 8 kB write takes ~125 µs (``pg_test_fsync``), so a
one-row transaction is bound by CPU, not by its flush.  Issue 14's table (165 plain
PostgreSQL transactions/s for one writer) came from a disk whose flush took ~6 ms, where a
transaction waits for its flush and group commit is how a database beats one-row
transactions.  To measure both regimes on one machine, ``slowsync.c`` (compiled here with
the machine's C compiler) is preloaded into every process of a run: each ``fsync`` and
``fdatasync`` does the real flush, then sleeps ``SLOWSYNC_US`` microseconds.  Both sides of
the comparison get it — botree's writers and the plain peers, and a throwaway PostgreSQL
cluster (``initdb`` + ``pg_ctl``, ``fsync=on``) started with it — so the ratio is fair.

Linux with glibc only (``LD_PRELOAD``, ``dlsym(RTLD_NEXT)``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Callable, Dict, Tuple

from tests.pgcluster import ClusterUnavailable, start_cluster

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "slowsync.c")


class SlowDiskUnavailable(RuntimeError):
    """No C compiler, no PostgreSQL server binaries, or not Linux: the slow-disk runs cannot be made."""


def preload(directory: str, micros: int) -> Dict[str, str]:
    """Compile the shim into ``directory``: the environment that slows every flush by ``micros`` µs."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        raise SlowDiskUnavailable("no C compiler to build benchmarks/slowsync.c")
    library = os.path.join(directory, "slowsync.so")
    try:
        subprocess.run([compiler, "-shared", "-fPIC", "-O2", "-o", library, SOURCE, "-ldl"],
                       check=True, capture_output=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SlowDiskUnavailable(f"cannot build the flush shim: {exc}") from None
    os.chmod(directory, 0o755)  # the cluster's server runs as another user and must load it
    return {"LD_PRELOAD": library, "SLOWSYNC_US": str(micros)}


def cluster(env: Dict[str, str]) -> Tuple[str, Callable[[], None]]:
    """A throwaway PostgreSQL cluster (``fsync=on``) whose server runs with ``env``: (URL, stop)."""
    try:
        return start_cluster(settings="-c fsync=on -c max_connections=200", env=env)
    except ClusterUnavailable as exc:
        raise SlowDiskUnavailable(str(exc)) from None
