"""Invalid payloads on ANY route (not only /admin) answer 422 problem details naming the field."""

from __future__ import annotations

from api.errors import field_of


def test_field_path_format():
    assert field_of(("body", "windows", 2, "end_minute")) == "windows[2].end_minute"
    assert field_of(("query", "limit")) == "limit"


def test_device_route_422_names_the_field_at_top_level(client):
    r = client.post("/device/v1/enroll", json={"public_key": "x"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["field"] == "enrollment_token"
    assert body["detail"].startswith("enrollment_token: ")
    assert {"field": "enrollment_token"}.items() <= body["errors"][0].items()
