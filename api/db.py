"""Engine and session handling: one session per request, committed at the edge."""

from __future__ import annotations

import os
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import ARRAY, ColumnElement, Engine, any_, create_engine, event, literal
from sqlalchemy.orm import Session, sessionmaker


def prepare_sqlite_file(url: str) -> None:
    """Create a SQLite database file owner-only (0600, and its -wal/-shm files after it) in a
    0700 directory, before SQLite would create it world-readable under the umask."""
    if not url.startswith("sqlite"):
        return
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:":
        return
    file = Path(path)
    if not file.parent.exists():
        file.parent.mkdir(parents=True, mode=0o700)
    os.close(os.open(file, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(file, 0o600)


def make_engine(url: str, **kwargs: object) -> Engine:
    if url.startswith("sqlite"):
        prepare_sqlite_file(url)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def among(session: Session, column: Any, ids: Collection[int]) -> ColumnElement[bool]:
    """``column IN ids``. On PostgreSQL the ids travel as one array parameter (``= ANY``): a
    statement with thousands of bound values is compiled anew by SQLAlchemy and rewritten by
    psycopg on every call, and is too long for psycopg's prepared-statement cache."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(literal(list(ids), ARRAY(column.type)))
    return column.in_(list(ids))  # type: ignore[no-any-return]


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> Session:
        return self.sessionmaker()

    def dispose(self) -> None:
        self.engine.dispose()


def get_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: commit on success, roll back on any error.

    Always use it as ``SessionDep`` (or ``Depends(get_session, scope="function")``): with the
    default request scope FastAPI sends the response before the commit runs, so a failed commit
    would still answer 200. ``tests/test_session_scope.py`` checks every route."""
    db: Database = request.app.state.db
    with db.session() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
