"""The throwaway PostgreSQL server from tests/pg_server.py works and isolates databases."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres


def test_server_answers_version(pg_server) -> None:
    with psycopg.connect(pg_server.dsn("postgres")) as conn:
        (version,) = conn.execute("select version()").fetchone()
    assert version.startswith("PostgreSQL ")
    assert pg_server.host == "127.0.0.1"


def test_server_requires_the_password(pg_server) -> None:
    bad = pg_server.dsn("postgres").replace(pg_server.password, "wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad, connect_timeout=5).close()


def test_pg_url_works_with_sqlalchemy(pg_url) -> None:
    url = make_url(pg_url)
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "127.0.0.1"
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.scalar(sa.text("select current_database()")) == url.database
            assert conn.scalar(sa.text("select version()")).startswith("PostgreSQL ")
    finally:
        engine.dispose()


def test_second_database_is_isolated(pg_server, pg_url) -> None:
    first = make_url(pg_url).database
    second = first + "_second"
    pg_server.create_database(second)
    try:
        with psycopg.connect(pg_server.dsn(first), autocommit=True) as conn:
            conn.execute("create table marker (v text)")
            conn.execute("insert into marker values ('only in the first')")
        with psycopg.connect(pg_server.dsn(second)) as conn:
            exists = conn.execute("select to_regclass('public.marker')").fetchone()[0]
        assert exists is None
        with psycopg.connect(pg_server.dsn(first)) as conn:
            assert conn.execute("select v from marker").fetchall() == [("only in the first",)]
    finally:
        pg_server.drop_database(second)
    with psycopg.connect(pg_server.dsn("postgres")) as conn:
        names = {r[0] for r in conn.execute("select datname from pg_database")}
    assert second not in names and first in names
