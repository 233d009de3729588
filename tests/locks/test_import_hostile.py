"""Hostile booking imports and webhooks (issue 9): the individual-number guard on the booker's
fields (finding 6), formula cells refused (finding 5), and a large import bounded in rows and
errors and kept off the event loop (finding 9)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest

from api.bookings.service import receive_webhook, webhook_signature
from api.csv_import import MAX_REPORTED_ERRORS, MAX_ROWS, SPOOL_MEMORY
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


@pytest.mark.parametrize("cell", ['=HYPERLINK("http://evil.example/")', "+1+1", "-2+3",
                                  "@SUM(A1)", "\t=1+1", " =1+1"])
def test_csv_import_refuses_formula_cells_naming_the_line(admin, app, database, tmp_path, cell):
    wire(app, tmp_path)
    create_site(admin)
    quoted = '"' + cell.replace('"', '""') + '"'
    r = post_csv(admin, HEADER + ROW.format(ref="R-1", name="田中 太郎", email="t@example.jp")
                 + ROW.format(ref="R-2", name=quoted, email="j@example.jp"))
    assert r.status_code == 400, r.text
    [err] = r.json()["errors"]
    assert (err["line"], err["field"]) == (3, "booker_name") and "formula" in err["message"]
    with database.session() as s:
        assert s.query(Booking).count() == 0


def test_at_most_the_first_100_errors_are_reported_with_their_count(admin, app, tmp_path):
    wire(app, tmp_path)
    create_site(admin)
    bad = 5000
    text = HEADER + "".join(ROW.format(ref=f"R-{i}", name="田中", email="t@example.jp")
                            .replace("aso-gym", "nowhere") for i in range(bad))
    r = post_csv(admin, text)
    assert r.status_code == 400
    body = r.json()
    assert body["error_count"] == bad and len(body["errors"]) == MAX_REPORTED_ERRORS
    assert [e["line"] for e in body["errors"]] == list(range(2, 2 + MAX_REPORTED_ERRORS))
    assert "5000 errors" in body["detail"]
    assert len(r.content) < 40_000  # on main: one error per row, the answer as big as the file


def test_more_rows_than_the_limit_is_refused_naming_the_line(admin, app, database, tmp_path):
    wire(app, tmp_path)
    create_site(admin)
    text = HEADER + "x\n" * (MAX_ROWS + 500)
    r = post_csv(admin, text)
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["line"] == MAX_ROWS + 2 and r.json()["max_rows"] == MAX_ROWS
    assert f"more than {MAX_ROWS} rows" in r.json()["detail"]


def test_a_big_csv_past_the_row_limit_answers_the_limit_alone(app, database, live_server,
                                                              tmp_path, admin_token, admin):
    """50,000 valid rows (about 3.5 MB, within the 10 MiB body limit) through a live
    server: one small 413 naming the limit and the first line past it; no row error, no
    booking (on main: a 400 as big as the file listing one error per row)."""
    wire(app, tmp_path)
    create_site(admin)
    rows = MAX_ROWS + 30_000
    text = HEADER + ROW.format(ref="", name="田中", email="t@example.jp") * rows
    assert len(text.encode()) > 3 * SPOOL_MEMORY  # most of it spooled to disk
    with httpx.Client(base_url=live_server.url, timeout=300) as c:
        r = c.post("/api/v1/bookings/import", content=text.encode(),
                   headers={"content-type": "text/csv",
                            "authorization": f"Bearer {admin_token}"})
    assert r.status_code == 413, r.text
    problem = r.json()
    assert (problem["line"], problem["max_rows"]) == (MAX_ROWS + 2, MAX_ROWS)
    assert "errors" not in problem and len(r.content) < 1000
    with database.session() as s:
        assert s.query(Booking).count() == 0


def test_undecodable_byte_is_reported_with_its_line(admin, app, tmp_path):
    wire(app, tmp_path)
    raw = (HEADER + ROW.format(ref="R-1", name="田中", email="t@example.jp")).encode() \
        + b"R-2,aso-gym,\xff\n"
    r = admin.post("/api/v1/bookings/import", content=raw, headers={"content-type": "text/csv"})
    assert r.status_code == 400 and r.json()["line"] == 3 and "UTF-8" in r.json()["detail"]


def test_a_large_import_does_not_block_the_event_loop(admin, app, live_server, tmp_path,
                                                      admin_token):
    """While a big import is parsed and checked row by row against the database, /healthz
    keeps answering; on main the import ran on the loop and froze every route."""
    wire(app, tmp_path)
    create_site(admin)
    rows = 3000  # valid rows, each checked against the database, then one bad row
    text = HEADER + "".join(ROW.format(ref=f"R-{i}", name="田中", email="t@example.jp")
                            for i in range(rows)) + "x\n"
    answer: dict[str, object] = {}

    def run_import() -> None:
        with httpx.Client(base_url=live_server.url, timeout=300) as c:
            started = time.monotonic()
            r = c.post("/api/v1/bookings/import", content=text.encode(),
                       headers={"content-type": "text/csv",
                                "authorization": f"Bearer {admin_token}"})
            answer.update(status=r.status_code, body=r.json(),
                          seconds=time.monotonic() - started)

    worker = threading.Thread(target=run_import)
    worker.start()
    latencies = []
    with httpx.Client(base_url=live_server.url, timeout=60) as c:
        while worker.is_alive():
            started = time.monotonic()
            assert c.get("/healthz").status_code == 200
            latencies.append(time.monotonic() - started)
            time.sleep(0.05)
    worker.join()
    assert answer["status"] == 400, answer
    assert [e["line"] for e in answer["body"]["errors"]] == [rows + 2]  # type: ignore[index]
    assert max(latencies) < 1.0, (sorted(latencies)[-5:], answer["seconds"])
    assert len(latencies) >= 5, answer  # the import took long enough to overlap the probes
