"""A throwaway PostgreSQL cluster: ``initdb`` + ``pg_ctl`` in a temporary directory, on a free port.

For the tests (``conftest.server_url`` when no server answers, and fixtures needing a server
configured their own way) and the benchmarks (``benchmarks/slow_disk.py``: a server whose
flushes are slowed).  No pytest here: the benchmarks import it too.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from typing import Callable, Dict, List, Optional, Tuple


class ClusterUnavailable(RuntimeError):
    """No PostgreSQL server binaries here, or the cluster would not start."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (at the moment of asking)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_cluster(
    settings: str = "-c fsync=off",
    password: Optional[str] = None,
    env: Optional[Dict[str, str]] = None,
    database: str = "test",
) -> Tuple[str, Callable[[], None]]:
    """Start a cluster: (its URL for user ``postgres`` and ``database``, a function that stops and removes it).

    ``settings``: server options (``-c name=value ...``); ``password``: the ``postgres``
    user's, required of every connection (scram-sha-256; else trust); ``env``: variables the
    server runs with (``LD_PRELOAD``, say).  As root, the cluster runs as the ``postgres``
    user (``initdb`` refuses root).  ``ClusterUnavailable`` if it cannot be started.
    """
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    initdb = found[-1]
    if not initdb or not os.path.exists(initdb):
        raise ClusterUnavailable("no PostgreSQL server binaries (initdb) on this machine")
    bin_dir = os.path.dirname(initdb)
    home = tempfile.mkdtemp(prefix="botree-pg-")
    data = os.path.join(home, "data")
    as_user: List[str] = []
    auth = ["-A", "trust"]
    owned = [home]
    if password is not None:
        secret = os.path.join(home, "password")
        with open(secret, "w") as out:
            out.write(password + "\n")
        auth = ["-A", "scram-sha-256", f"--pwfile={secret}"]
        owned.append(secret)
    port = free_port()
    with_env = ["env", *(f"{k}={v}" for k, v in (env or {}).items())]
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 {settings}"

    def stop() -> None:
        subprocess.run([*as_user, os.path.join(bin_dir, "pg_ctl"), "-D", data, "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)

    try:
        if os.geteuid() == 0:
            for path in owned:
                shutil.chown(path, "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*as_user, initdb, "-D", data, *auth, "-U", "postgres"],
                       check=True, capture_output=True, timeout=300)
        subprocess.run([*as_user, *with_env, os.path.join(bin_dir, "pg_ctl"), "-D", data, "-o", options, "-w",
                        "-l", os.path.join(home, "log"), "start"], check=True, capture_output=True, timeout=300)
        if database != "postgres":
            subprocess.run([*as_user, "env", f"PGPASSWORD={password or ''}", os.path.join(bin_dir, "createdb"),
                            "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database],
                           check=True, capture_output=True, timeout=60)
    except (LookupError, OSError, subprocess.SubprocessError) as exc:
        stop()
        raise ClusterUnavailable(f"cannot start a PostgreSQL cluster: {exc}") from None
    userinfo = "postgres" if password is None else f"postgres:{password}"
    return f"postgresql://{userinfo}@127.0.0.1:{port}/{database}", stop
