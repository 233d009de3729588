"""A large month split over worker processes gives the same bytes as one process."""

from __future__ import annotations

from datetime import date

import pytest

import api.exports.parallel as parallel
from api.exports.service import export_dataset
from api.models import AttendanceFrozenMonth

from . import factories as f
from .test_exports import NOW, scenario


@pytest.mark.parametrize("dataset,fmt", [("daily", "cp932"), ("monthly", "utf8bom")])
def test_parallel_export_is_byte_identical(database, monkeypatch, dataset, fmt):
    with database.session() as s:
        a, b, c, dev, door = scenario(s)
        dept = s.get(type(a), a.id).department_id
        from api.models import Department

        d = s.get(Department, dept)
        for i in range(7):
            p = f.staff(s, d, f"P{i:04d}", f"職員 {i}", "ショクイン")
            f.day(s, dev, door, p, date(2026, 11, 10 + i), f"08:3{i}", f"2{i % 3}:05")
        s.commit()
    monkeypatch.setattr(parallel, "MIN_STAFF", 1)
    if database.engine.dialect.name != "postgresql":
        pytest.fail("the parallel path is PostgreSQL only; tests run on PostgreSQL")
    with database.session() as s:
        one = export_dataset(s, dataset=dataset, month="2026-11", file_format=fmt, now=NOW,
                             record_run=False, workers=1)
        many = export_dataset(s, dataset=dataset, month="2026-11", file_format=fmt, now=NOW,
                              record_run=False, workers=3)
    assert many.content == one.content and many.rows == one.rows == (
        10 * 30 if dataset == "daily" else 10)
    # A final parallel export freezes the month; re-exporting (now serial) gives the same bytes.
    with database.session() as s:
        final = export_dataset(s, dataset=dataset, month="2026-11", file_format=fmt, now=NOW,
                               workers=3)
        s.commit()
        assert final.content == one.content
        assert s.query(AttendanceFrozenMonth).count() == 10
        again = export_dataset(s, dataset=dataset, month="2026-11", file_format=fmt, now=NOW)
        assert again.content == one.content


def test_parallel_export_reports_a_cp932_error(database, monkeypatch):
    with database.session() as s:
        scenario(s, name2="𠮷田 花子")
        s.commit()
    monkeypatch.setattr(parallel, "MIN_STAFF", 1)
    from api.exports.writer import ExportEncodingError

    with database.session() as s, pytest.raises(ExportEncodingError) as err:
        export_dataset(s, dataset="daily", month="2026-11", now=NOW, record_run=False,
                       workers=2)
    assert "A0002" in err.value.message and err.value.field == "name"


def test_export_month_computes_once_and_matches_single_exports(database, monkeypatch):
    from api.exports.service import export_month

    with database.session() as s:
        scenario(s)
        s.commit()
    with database.session() as s:
        single = {d: export_dataset(s, dataset=d, month="2026-11", now=NOW, record_run=False,
                                    workers=1).content for d in ("daily", "monthly", "punches")}
    monkeypatch.setattr(parallel, "MIN_STAFF", 1)
    for workers in (1, 2):
        with database.session() as s:
            out = export_month(s, datasets=["daily", "monthly", "punches"], month="2026-11",
                               now=NOW, record_run=False, workers=workers)
            assert {d: r.content for d, r in out.items()} == single
    with database.session() as s:
        out = export_month(s, datasets=["daily", "monthly"], month="2026-11", now=NOW,
                           workers=2)
        s.commit()
        assert s.query(AttendanceFrozenMonth).count() == 3
        assert out["daily"].run_id != out["monthly"].run_id


def test_parallel_export_from_a_threaded_process_uses_a_fork_server(database, monkeypatch):
    """In the API server other threads run, so the workers come from a fork server."""
    import threading

    with database.session() as s:
        scenario(s)
        s.commit()
    monkeypatch.setattr(parallel, "MIN_STAFF", 1)
    with database.session() as s:
        one = export_dataset(s, dataset="daily", month="2026-11", now=NOW, record_run=False,
                             workers=1)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait, daemon=True)
    t.start()
    used: list[str] = []
    real = parallel.multiprocessing.get_context

    def spy(method):  # type: ignore[no-untyped-def]
        used.append(method)
        return real(method)

    monkeypatch.setattr(parallel.multiprocessing, "get_context", spy)
    try:
        with database.session() as s:
            many = export_dataset(s, dataset="daily", month="2026-11", now=NOW,
                                  record_run=False, workers=2)
    finally:
        stop.set()
        t.join()
    assert used == ["forkserver"] and many.content == one.content
