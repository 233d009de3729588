"""Every route × every role, enumerated from the app (a new route is covered by itself).

A role the matrix allows never gets 401/403; a role it forbids gets 403 and the row count of
every table is the same before and after. Routes no user calls (PUBLIC, DEVICE) give user
credentials nothing beyond what anyone gets."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from starlette.routing import Mount, Route

from api.models import Base, Department, DepartmentSupervisor, Staff
from api.users.auth import require_admin
from api.users.roles import ROLE_MATRIX, Access, Role, allowed, rule_for
from api.users.scope import SUPERVISOR_SCOPE
from tests.identities import make_token

PATH_VALUES = {"day": "2026-11-30", "dataset": "daily", "lock_id": "no-such-lock"}
# A streaming route lasts as long as it is asked to: one second here.
QUERY = {"/console/stream/events": {"seconds": 1}}


def _seed(database) -> dict[Role, tuple[str, int]]:  # type: ignore[no-untyped-def]
    """One staff member per role (so /me works for all), the supervisor heads their 課."""
    with database.session() as s:
        dept = Department(code="matrix", name="検証課")
        s.add(dept)
        s.flush()
        out = {}
        for i, role in enumerate(Role):
            person = Staff(staff_number=f"M{i:03d}", name=f"検証 {role.value}",
                           name_kana="ケンショウ", department_id=dept.id,
                           active_from=date(2020, 4, 1))
            s.add(person)
            s.flush()
            out[role] = (person.id, dept.id)
            if role is Role.SUPERVISOR:
                s.add(DepartmentSupervisor(department_id=dept.id, staff_id=person.id,
                                           effective_from=date(2020, 4, 1)))
        s.commit()
    return out


def _counts(database) -> dict[str, int]:  # type: ignore[no-untyped-def]
    names = [t.name for t in Base.metadata.sorted_tables]
    sql = "SELECT " + ", ".join(f"(SELECT count(*) FROM {n})" for n in names)
    with database.engine.connect() as conn:
        row = conn.execute(text(sql)).one()
    return dict(zip(names, row, strict=True))


def _path(route: APIRoute) -> str:
    return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: PATH_VALUES.get(m.group(1), "1"), route.path)


def _uses(dependant: Dependant, call: object) -> bool:
    return any(d.call is call or _uses(d, call) for d in dependant.dependencies)


def _leaves(routes: list) -> list:  # type: ignore[type-arg]
    out = []
    for route in routes:
        if hasattr(route, "original_router"):  # an included router (FastAPI ≥ 0.160)
            out += _leaves(route.original_router.routes)
        else:
            out.append(route)
    return out


def _calls(app) -> list[tuple[APIRoute, str]]:  # type: ignore[no-untyped-def]
    out = []
    for route in _leaves(app.routes):
        if isinstance(route, APIRoute):
            out += [(route, m) for m in sorted(route.methods)]
        else:  # docs, openapi and static files: public by declaration
            assert isinstance(route, Route | Mount), route
            assert rule_for(route.path).access is Access.PUBLIC, route.path
    return out


def test_every_user_route_is_guarded_by_the_shared_dependency(app):
    calls = _calls(app)
    assert len(calls) > 100
    for route, _method in calls:
        rule = rule_for(route.path)
        guarded = _uses(route.dependant, require_admin)
        assert guarded is (rule.access is Access.USER), (route.path, rule)


def test_every_route_times_every_role(app, database):
    people = _seed(database)
    clients = {role: TestClient(app, raise_server_exceptions=False, headers={
        "Authorization": f"Bearer {make_token(database, f'm-{role.value}', role, staff_id=sid)}"})
        for role, (sid, _dept) in people.items()}
    anonymous = TestClient(app, raise_server_exceptions=False)
    checked = forbidden = 0
    for route, method in _calls(app):
        rule, path = rule_for(route.path), _path(route)
        body = {} if method in {"POST", "PUT", "PATCH"} else None
        if rule.access in (Access.USER, Access.CONSOLE):
            before = _counts(database)
            r = anonymous.request(method, path, json=body, follow_redirects=False)
            if rule.access is Access.USER:
                assert r.status_code == 401, (method, path, r.status_code)
            else:  # a browser without a login is sent to the login form
                assert (r.status_code, r.headers.get("location")) == (303, "/console/login")
            assert _counts(database) == before
        for role, client in clients.items():
            params = dict(QUERY.get(route.path, {}))
            if role is Role.SUPERVISOR and route.path in SUPERVISOR_SCOPE:
                sid, dept = people[role]
                scope_param = SUPERVISOR_SCOPE[route.path]
                params = {scope_param: sid if scope_param == "staff_id" else dept}
            before = _counts(database)
            r = client.request(method, path, json=body, params=params)
            if rule.access not in (Access.USER, Access.CONSOLE):
                assert r.status_code not in {403} or rule.access is Access.DEVICE, (role, path)
                assert r.status_code >= 400 or rule.access is Access.PUBLIC, (role, path)
            elif allowed(role, method, route.path):
                assert r.status_code not in {401, 403}, (role, method, path, r.text)
            else:
                forbidden += 1
                assert r.status_code == 403, (role, method, path, r.status_code)
                assert _counts(database) == before, (role, method, path)
            checked += 1
    assert checked == len(_calls(app)) * len(Role) and forbidden > 300


@pytest.mark.parametrize("path,param", sorted(SUPERVISOR_SCOPE.items()))
def test_a_supervisor_sees_only_their_own_department(app, database, path, param):
    people = _seed(database)
    sid, dept = people[Role.SUPERVISOR]
    with database.session() as s:
        other = Department(code="other", name="他課")
        s.add(other)
        s.flush()
        stranger = Staff(staff_number="X001", name="他課 職員", name_kana="タカ",
                         department_id=other.id, active_from=date(2020, 4, 1))
        s.add(stranger)
        s.commit()
        outside = stranger.id if param == "staff_id" else other.id
    inside = sid if param == "staff_id" else dept
    client = TestClient(app, headers={"Authorization": "Bearer " + make_token(
        database, "boss", Role.SUPERVISOR, staff_id=sid)})
    query = {"month": "2026-11"}
    assert client.get(path, params={**query, param: inside}).status_code == 200
    no = client.get(path, params={**query, param: outside})
    assert no.status_code == 403 and no.json()["field"] == param
    assert client.get(path, params=query).status_code == 403  # the scope must be given
    twice = [("month", "2026-11"), (param, str(inside)), (param, str(outside))]
    assert client.get(path, params=twice).status_code == 403


SELF_SERVICE = ("/me/", "/auth/", "/console/me")


def test_the_auditor_reads_and_the_staff_role_serves_itself_only():
    for rule in ROLE_MATRIX:
        if rule.access not in (Access.USER, Access.CONSOLE) or \
                rule.prefix.startswith(SELF_SERVICE):
            continue
        assert Role.AUDITOR not in rule.write, rule.prefix
        assert Role.STAFF not in rule.read | rule.write, rule.prefix


@given(st.text(alphabet="/abcdemnopstu{}_-", max_size=40), st.sampled_from(
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]))
def test_admin_may_call_every_user_route_and_unknown_paths_are_admin_only(path, method):
    rule = rule_for(path)
    if rule.access in (Access.USER, Access.CONSOLE):
        assert allowed(Role.ADMIN, method, path)
    if not any(path.startswith(r.prefix) for r in ROLE_MATRIX):
        assert {r for r in Role if allowed(r, method, path)} == {Role.ADMIN}
