"""A real PostgreSQL for tests/ha: one server per session, one fresh database per test."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest

from liverecd.config import DatabaseConfig

from .pg import PgServer, binaries

_names = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's server (skipped, saying why, when PostgreSQL is not installed)."""
    bin_dir = binaries()
    if bin_dir is None:
        pytest.skip("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin "
                    "(apt-get install postgresql)")  # fmt: skip
    server = PgServer.create(bin_dir)
    yield server
    server.destroy()


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A URL for a database of this test's own."""
    name = f"t{next(_names)}"
    pg_server.psql(f"CREATE DATABASE {name}")
    return pg_server.url(name)


def db_config(url: str, *, lease: float = 3.0, cluster: str = "main") -> DatabaseConfig:
    """A `database` block for `url`."""
    return DatabaseConfig(url=url, cluster=cluster, lease=timedelta(seconds=lease))
