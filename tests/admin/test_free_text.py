"""Every stored free-text field and header runs the one individual-number guard (issue 9,
finding 6): the fields the finding named, by schema and through the API, and a walk over every
request schema so that a new ``str`` field without the guard fails here."""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Literal, get_args, get_origin

import pytest
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError

from api.attendance.schemas import CorrectionCreate, DayOverrideCreate, WorkPatternCreate
from api.bookings.schemas import BookingCreate
from api.device_protocol.schemas import EnrollRequest, EventBatch, EventIn
from api.devices.schemas import DeviceCreate, DeviceRevoke
from api.facilities.schemas import FacilityCreate, FacilityUpdate
from api.locks.schemas import EmergencyRequest, LockCreate
from api.models import AuditLog, Facility
from api.overtime.schemas import OvertimeApply
from api.routes import all_routers
from api.text import Guard, GuardJson
from gate.individual_number import holds_individual_number

TWELVE = "".join(str(d) for d in (1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2))  # made up, never real
WAYS = [TWELVE, f"{TWELVE[:4]}.{TWELVE[4:8]}.{TWELVE[8:]}", "\u200b".join(TWELVE),
        "".join(chr(0xFF10 + int(d)) for d in TWELVE), "ー".join(TWELVE[i:i + 4] for i in (0, 4, 8)),
        "".join("〇一二三四五六七八九"[int(d)] for d in TWELVE)]
EVENT = {"id": "7d4f2c1e-0b8a-4c2e-9f51-3a6b1d2e4f50", "seq": 1, "kind": "tap",
         "occurred_at": "2026-11-29T09:00:00+09:00", "hash": "0" * 64}
BOOKING = {"facility_id": 1, "start_at": "2026-12-01T09:00:00+09:00",
           "end_at": "2026-12-01T10:00:00+09:00", "booker_name": "山田 花子",
           "booker_email": "hanako@example.jp"}
FACILITY = {"code": "gym", "name": "体育館"}

# (schema, a valid payload, the field, a value template: {} is the 12 digits)
NAMED_FIELDS: list[tuple[type[BaseModel], dict[str, Any], str, str]] = [
    (BookingCreate, BOOKING, "booker_name", "山田 {}"),
    (BookingCreate, BOOKING, "booker_email", "{}@example.jp"),
    (BookingCreate, BOOKING, "external_ref", "{}"),
    (DeviceCreate, {"name": "受付"}, "name", "受付 {}"),
    (DeviceRevoke, {"reason": "紛失"}, "reason", "紛失 {}"),
    (FacilityCreate, FACILITY, "name", "体育館{}"),
    (FacilityCreate, FACILITY, "address", "阿蘇市 {}"),
    (FacilityCreate, FACILITY, "contact", "係 {}"),
    (FacilityCreate, FACILITY, "instructions", "鍵は {} です"),
    (FacilityUpdate, {}, "instructions", "{}"),
    (LockCreate, {"facility_id": 1, "lock_id": "k1", "kind": "offline"}, "name", "正面 {}"),
    (EmergencyRequest, {"reason": "閉じ込め"}, "reason", "閉じ込め {}"),
    (CorrectionCreate, {"staff_id": 1, "business_date": "2026-11-27", "kind": "in",
                        "corrected_at": "2026-11-27T08:30:00+09:00", "reason": "忘れ"},
     "reason", "忘れ {}"),
    (OvertimeApply, {"work_date": "2026-11-27", "start_at": "2026-11-27T18:00:00+09:00",
                     "end_at": "2026-11-27T19:00:00+09:00", "reason": "議会"},
     "reason", "議会 {}"),
    (WorkPatternCreate, {"code": "early", "name": "早番", "start_time": "07:30",
                         "end_time": "16:15"}, "name", "早番{}"),
    (DayOverrideCreate, {"day": "2026-11-28", "day_type": "workday"}, "note", "振替 {}"),
    (EnrollRequest, {"enrollment_token": "t" * 20, "public_key": "k" * 44}, "agent_version",
     "{}"),
    (EventIn, EVENT, "reason", "{}"),
]


@pytest.mark.parametrize(("model", "base", "field", "template"), NAMED_FIELDS,
                         ids=[f"{m.__name__}.{f}" for m, _b, f, _t in NAMED_FIELDS])
@pytest.mark.parametrize("way", range(len(WAYS)))
def test_every_named_field_refuses_12_digits(model, base, field, template, way):
    model.model_validate(base)  # the payload is valid without the number
    with pytest.raises(ValidationError, match="個人番号") as info:
        model.model_validate({**base, field: template.format(WAYS[way])})
    assert info.value.errors()[0]["loc"][0] == field


def test_device_event_data_strings_are_guarded_at_any_depth():
    EventIn.model_validate({**EVENT, "data": {"detail": "0967-22-3111", "n": [1, {"x": "ok"}]}})
    for data in ({"detail": f"card said {WAYS[1]}"}, {"nested": [{"x": WAYS[2]}]},
                 {WAYS[0]: True}):
        with pytest.raises(ValidationError, match="個人番号"):
            EventIn.model_validate({**EVENT, "data": data})


# -- every request schema, walked ------------------------------------------------------------
# str fields that are machine values, not text: random hex and base64 hold 12-digit runs by
# chance (a 32-hex credential id does about 8% of the time), so the guard would refuse real
# cards. Closed vocabularies and six-digit codes cannot hold 12 digits.
EXEMPT = {
    "CredentialCreate.credential_ref": "hex credential id / certificate fingerprint",
    "CredentialCreate.public_key": "base64 public key",
    "CredentialCreate.issuer_code": "exactly six digits",
    "EnrollmentResponse.credential_record": "base64 card record",
    "EnrollmentResponse.certificate": "base64 DER certificate",
    "EnrollmentResponse.signature": "base64 signature",
    "EnrollRequest.enrollment_token": "random token, compared by hash",
    "EnrollRequest.public_key": "base64 Ed25519 key",
    "EventIn.credential_ref": "hex credential id",
    "LoginRequest.password": "a secret, only hashed (argon2id), never stored or shown",
    "LoginRequest.totp": "six digits (pattern-checked)",
    "LoginRequest.username": "compared, never stored: a name that cannot exist is audited as "
                             "'(invalid name)'",
    "CertificateCheck.certificate": "base64 DER certificate (pattern-checked)",
    "EventIn.prev_hash": "hex SHA-256",
    "EventIn.hash": "hex SHA-256",
    "DecideRequest.credential_ref": "hex credential id",
    "SyncUpload.lock_id": "lookup key of a MAC-signed key box upload",
    "SyncUpload.mac": "hex HMAC",
    "SyncUpload.events": "the key box's own log (its 12-digit revocation codes), MAC-signed",
    "CorrectionCreate.kind": "closed vocabulary in|out",
    "DayOverrideCreate.kind": "closed vocabulary",
    "ProfileCreate.dataset": "closed vocabulary",
    "DeviceConfigSettings.jpki_ca_certs": "PEM certificates (parsed as X.509 when rendered)",
}


def _problems(tp: Any, meta: list[Any], where: str, seen: set[type]) -> list[str]:
    """The unguarded strings reachable in a field of annotation ``tp``."""
    guarded = any(m is Guard for m in meta)
    json_guarded = any(m is GuardJson for m in meta)
    origin = get_origin(tp)
    if origin is Annotated:
        inner, *more = get_args(tp)
        return _problems(inner, [*meta, *more], where, seen)
    if origin in (typing.Union, types.UnionType):
        return [p for arm in get_args(tp) for p in _problems(arm, meta, where, seen)]
    if origin is Literal or tp in (type(None), int, float, bool) or where in EXEMPT:
        return []
    if origin in (dict, list, tuple, set) or tp is Any:
        if json_guarded:
            return []
        return [p for arg in get_args(tp) if arg is not Ellipsis
                for p in _problems(arg, [], where, seen)] or ([] if origin else [where])
    if tp is str:
        return [] if guarded else [where]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return _model_problems(tp, seen)
    return []  # dates, datetimes, UUIDs, enums: no free text


def _model_problems(model: type[BaseModel], seen: set[type]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    return [p for name, info in model.model_fields.items()
            for p in _problems(info.annotation, list(info.metadata), f"{model.__name__}.{name}",
                               seen)]


def request_models() -> list[type[BaseModel]]:
    models = []
    for router in all_routers():
        for route in router.routes:
            if isinstance(route, APIRoute):
                for param in route.dependant.body_params:
                    tp = param.field_info.annotation
                    if isinstance(tp, type) and issubclass(tp, BaseModel):
                        models.append(tp)
    # Bodies read raw and parsed after the signature check (``api.limits.parse_json_body``).
    models.append(EventBatch)
    return models


def test_every_str_of_every_request_schema_is_guarded():
    models = request_models()
    assert {BookingCreate, FacilityCreate, DeviceCreate} <= set(models) and len(models) > 30
    seen: set[type] = set()
    problems = sorted({p for m in models for p in _model_problems(m, seen)})
    assert EventIn in seen  # reached through EventBatch
    assert not problems, f"str fields without api.text.Guard (FreeText[n]): {problems}"
    assert set(EXEMPT) <= {f"{m.__name__}.{f}" for m in seen for f in m.model_fields}


def test_the_walk_catches_an_unguarded_field():
    class Sneaky(BaseModel):
        fine: Annotated[str, Guard]
        note: str | None = None
        tags: list[str] = []
        blob: dict[str, Any] = {}

    assert set(_model_problems(Sneaky, set())) == {"Sneaky.note", "Sneaky.tags", "Sneaky.blob"}


# -- through the API -------------------------------------------------------------------------
def test_the_audit_actor_is_the_authenticated_user_never_a_header(admin, database):
    """X-Actor is gone: the audit log names the authenticated user, so no header can carry the
    individual number into it."""
    r = admin.post("/api/v1/facilities", json=FACILITY, headers={"X-Actor": f"suzuki {WAYS[1]}"})
    assert r.status_code == 201, r.text
    with database.session() as s:
        actors = [a.actor for a in s.query(AuditLog)]
    assert actors and not any("suzuki" in a or holds_individual_number(a) for a in actors)


def test_facility_fields_refused_through_the_api(admin, database):
    for field in ("name", "address", "contact", "instructions"):
        r = admin.post("/api/v1/facilities", json={**FACILITY, field: f"x {WAYS[3]}"})
        assert r.status_code == 422 and r.json()["field"] == field, r.text
    with database.session() as s:
        assert s.query(Facility).count() == 0
