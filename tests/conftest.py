"""Shared fixtures: ``target``, each storage test's SQLite file and PostgreSQL schema.

The PostgreSQL tests need a server.  ``server_url()`` finds one, in this order:

1. ``BOTREE_TEST_PG`` (CI sets it): it must answer, or the tests fail — never skip.
2. The default local server, ``postgresql://postgres@127.0.0.1:5432/test`` (the
   ``test`` database is created if the server answers without it).
3. A throwaway cluster of our own (``initdb`` + ``pg_ctl`` in a temporary directory,
   on a free port), when the server binaries are installed; stopped at exit.
4. Otherwise the PostgreSQL tests are skipped, saying why.
"""

import atexit
import os
import uuid
from typing import Dict, Iterator, Optional

import pytest

from tests.pgcluster import ClusterUnavailable, start_cluster

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"


def _build() -> str:
    """Which build of botree the tests import: "compiled" (mypyc's modules, docs/design.md) or "pure"."""
    import botree.core.index

    return "pure" if botree.core.index.__file__.endswith(".py") else "compiled"


def pytest_report_header() -> str:
    return f"botree build: {_build()}"


def pytest_sessionstart(session: pytest.Session) -> None:
    """``BOTREE_EXPECT_COMPILED=1`` (``.ci/run``'s compiled run) or ``0`` (its pure run): fail on another build."""
    expected = {"1": "compiled", "0": "pure"}.get(os.environ.get("BOTREE_EXPECT_COMPILED", ""))
    if expected and _build() != expected:
        import botree.core.index

        found = botree.core.index.__file__
        raise pytest.UsageError(f"BOTREE_EXPECT_COMPILED wants the {expected} build, but {found} is imported")


_found: Dict[str, Optional[str]] = {}  # "url" -> the server's URL, or None with "why"


def _answers(url: str) -> bool:
    """True if a server answers at ``url`` (creating its database if the server lacks only that)."""
    import psycopg

    try:
        psycopg.connect(url, connect_timeout=3).close()
        return True
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            return False
    base, _, name = url.rpartition("/")
    try:
        with psycopg.connect(f"{base}/postgres", connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except psycopg.Error:
        return False


def _start_own_cluster() -> Optional[str]:
    """Start a throwaway PostgreSQL cluster if the server binaries are installed; its URL, or None."""
    try:
        url, stop = start_cluster()
    except ClusterUnavailable:
        return None
    atexit.register(stop)
    return url if _answers(url) else None


def server_url() -> str:
    """The PostgreSQL server the tests use (see the module docstring); skips the test if there is none."""
    if "url" not in _found:
        configured = os.environ.get("BOTREE_TEST_PG")
        if configured:
            if not _answers(configured):
                pytest.fail(f"BOTREE_TEST_PG={configured} does not answer", pytrace=False)
            _found["url"] = configured
        elif _answers(DEFAULT_PG):
            _found["url"] = DEFAULT_PG
        else:
            _found["url"] = _start_own_cluster()
            _found["why"] = (
                "no PostgreSQL server answers on 127.0.0.1:5432 and none could be started here "
                "(install the server, or set BOTREE_TEST_PG to a database URL)"
            )
    url = _found["url"]
    if url is None:
        pytest.skip(_found["why"] or "no PostgreSQL server")
    return url


def pg_schema_url() -> Iterator[str]:
    """A URL whose tables live in a fresh schema, dropped afterwards."""
    import psycopg

    server = server_url()
    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in server else "?"
    yield f"{server}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A database target: an SQLite file path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        yield os.path.join(str(tmp_path), "tree.db")
    else:
        yield from pg_schema_url()
