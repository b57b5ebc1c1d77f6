"""Fixtures for the tests of ``core``: stores on SQLite and on the real PostgreSQL server.

``store_url`` is parametrized over ``sqlite`` (a file in the test's temp dir) and ``postgres`` (a
fresh database on the throwaway server from ``tests/pg_server.py``), so every test that uses it
runs on both backends. Password hashing uses cheap argon2id parameters so the suite stays fast.
Helpers the tests import live in ``storekit.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from storekit import WORKSTATION, Console, make_console

from core.security import Hasher, HashParams
from core.store.opening import open_store
from core.store.uow import Store


@pytest.fixture(scope="session")
def hasher() -> Hasher:
    return Hasher(HashParams(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'store' / 'charter.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    if request.param == "postgres":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'store' / 'charter.db'}"


@pytest.fixture
def store(store_url) -> Iterator[Store]:
    s = open_store(store_url, create=True, workstation=WORKSTATION)
    try:
        yield s
    finally:
        s.dispose()


@pytest.fixture
def console(store, hasher) -> Console:
    return make_console(store, hasher)


