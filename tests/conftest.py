"""Shared fixtures: ``target``, each storage test's SQLite file and PostgreSQL schema."""

import os
import uuid
from typing import Iterator

import pytest

# The storage tests run against a real PostgreSQL server: BOTREE_TEST_PG, by default
# the local one that .ci/run makes sure is running.  Each test gets its own schema.
PG = os.environ.get("BOTREE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def pg_schema_url() -> Iterator[str]:
    """A URL whose tables live in a fresh schema, dropped afterwards."""
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG else "?"
    yield f"{PG}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    """A database target: an SQLite file path, then a PostgreSQL URL."""
    if request.param == "sqlite":
        yield os.path.join(str(tmp_path), "tree.db")
    else:
        yield from pg_schema_url()
