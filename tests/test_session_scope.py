"""Every route that takes a database session commits it BEFORE the response is sent.

With FastAPI's default request scope for yield dependencies, the response goes out first and a
failing commit would still have answered 200."""

from __future__ import annotations

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from api.db import SessionDep, get_session
from api.models import Site


def _session_deps(dep: Dependant) -> list[Dependant]:
    found = [dep] if dep.call is get_session else []
    for sub in dep.dependencies:
        found.extend(_session_deps(sub))
    return found


def _api_routes(routes: list) -> list[APIRoute]:  # type: ignore[type-arg]
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):  # an included router (FastAPI ≥ 0.160)
            out.extend(_api_routes(route.original_router.routes))
        elif hasattr(route, "routes"):
            out.extend(_api_routes(route.routes))
    return out


def test_every_session_dependency_is_function_scoped(app):
    checked = 0
    for route in _api_routes(app.routes):
        for dep in _session_deps(route.dependant):
            checked += 1
            assert dep.scope == "function", f"{route.path}: use api.db.SessionDep"
    assert checked >= 1


def test_failed_commit_is_not_answered_200(client, app):
    @app.post("/_test/site")
    def add_site(session: SessionDep) -> dict[str, bool]:
        session.add(Site(code="dup", name="x"))  # no flush: the duplicate fails at commit
        return {"ok": True}

    assert client.post("/_test/site").status_code == 200
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/_test/site")
    # The duplicate at commit answers the constraint's problem (409), never 200.
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
