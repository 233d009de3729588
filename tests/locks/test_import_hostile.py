"""Hostile booking imports and webhooks (issue 9): the individual-number guard on the booker's
fields (finding 6)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from api.bookings.service import receive_webhook, webhook_signature
from api.errors import BadRequest
from api.models import Booking

from .helpers import create_site, wire

HEADER = "予約番号,施設コード,開始,終了,氏名,メールアドレス,支払状況\n"
ROW = "{ref},aso-gym,2026-12-05 09:00,2026-12-05 11:00,{name},{email},未払\n"
TWELVE = "".join(str(d) for d in (9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 9, 8))  # made up
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def post_csv(admin, text: str):  # type: ignore[no-untyped-def]
    return admin.post("/api/v1/bookings/import", content=text.encode(),
                      headers={"content-type": "text/csv"})


def test_csv_import_refuses_12_digits_in_any_text_column_naming_the_line(admin, app, database,
                                                                         tmp_path):
    wire(app, tmp_path)
    create_site(admin)
    spaced = f"{TWELVE[:4]} {TWELVE[4:8]} {TWELVE[8:]}"
    text = (HEADER + ROW.format(ref="R-1", name="田中 太郎", email="taro@example.jp")
            + ROW.format(ref="R-2", name=f"田中 {spaced}", email="jiro@example.jp")
            + ROW.format(ref=f"R-{TWELVE}", name="田中 三郎", email="saburo@example.jp")
            + ROW.format(ref="R-4", name="田中 四郎", email=f"{TWELVE}@example.jp"))
    r = post_csv(admin, text)
    assert r.status_code == 400, r.text
    errs = [(e["line"], e["field"]) for e in r.json()["errors"]]
    assert errs == [(3, "booker_name"), (4, "external_ref"), (5, "booker_email")]
    assert all("個人番号" in e["message"] for e in r.json()["errors"])
    with database.session() as s:
        assert s.query(Booking).count() == 0


def test_webhook_refuses_12_digits_in_the_booker_name(app, database, tmp_path, admin):
    settings = wire(app, tmp_path)
    create_site(admin)
    event = {"event": "booking.created", "external_ref": "W-9", "facility_code": "aso-gym",
             "start_at": "2026-12-07T10:00:00+09:00", "end_at": "2026-12-07T12:00:00+09:00",
             "booker_name": f"高橋 {'・'.join(TWELVE[i:i + 4] for i in (0, 4, 8))}",
             "booker_email": "saburo@example.jp"}
    body = json.dumps(event).encode()
    ts = str(int(NOW.timestamp()))
    sig = webhook_signature("test-webhook-secret", ts, body)
    with database.session() as s:
        try:
            receive_webhook(s, settings, body, ts, sig, now=NOW)
        except BadRequest as err:
            assert err.field == "booker_name" and "個人番号" in err.message
        else:
            raise AssertionError("the webhook stored a booker name holding 12 digits")
        assert s.query(Booking).count() == 0
