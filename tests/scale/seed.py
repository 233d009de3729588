"""Realistic row counts for plan tests, made in the database by ``generate_series`` (seconds,
not minutes): a city's staff and their cards, a year of door taps and punches, an audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from api.calendar.service import closed_days


@dataclass(frozen=True)
class Scale:
    departments: int = 400  # 50 staff each
    staff: int = 20_000
    devices: int = 40
    doors: int = 80
    events: int = 300_000
    audit: int = 100_000
    days: int = 365  # events spread over the year before ``now``


_SQL = (
    """INSERT INTO site (id, code, name) VALUES (1, 'S1', 'site-1')""",
    """INSERT INTO department (id, code, name, overtime_class)
       SELECT i, 'D' || i, '部署' || i, 'ordinary' FROM generate_series(1, :departments) i""",
    """INSERT INTO staff (id, staff_number, name, name_kana, department_id, employment_type,
                          work_pattern, active_from, active_until)
       SELECT i, lpad(i::text, 6, '0'), '職員' || i, 'ショクイン' || i, 1 + i % :departments,
              'regular', 'standard', DATE '2000-01-01',
              CASE WHEN i % 50 = 0 THEN DATE '2020-03-31' END
       FROM generate_series(1, :staff) i""",
    """INSERT INTO credential (id, staff_id, kind, credential_ref, public_key, status,
                               snapshot_version)
       SELECT i, i, 'mynumber', md5('cred' || i), 'pk', 'active', 1
       FROM generate_series(1, :staff) i""",
    """INSERT INTO door (id, code, name, site_id, mode, assurance, lockdown, fail_open)
       SELECT i, 'DR' || i, 'door-' || i, 1, 'card', 'card', false, false FROM generate_series(1, :doors) i""",
    """INSERT INTO device (id, name, site_id, status, max_seq, contiguous_seq)
       SELECT md5('dev' || i)::uuid, 'reader-' || i, 1, 'active', 0, 0
       FROM generate_series(1, :devices) i""",
    """INSERT INTO event (id, device_id, seq, kind, occurred_at, received_at, door_id,
                          staff_id, credential_ref, granted, reason, data)
       SELECT gen_random_uuid(), md5('dev' || (1 + i % :devices))::uuid, i,
              (ARRAY['tap','tap','tap','tap','tap','tap','clock_punch','clock_punch',
                     'door_state','alarm'])[1 + i % 10],
              ts, ts, 1 + i % :doors, 1 + (i::bigint * 7919) % :staff,
              md5('cred' || (1 + (i::bigint * 7919) % :staff)), i % 13 <> 0,
              CASE WHEN i % 13 = 0 THEN 'not_permitted' END,
              CASE i % 10 WHEN 6 THEN '{"punch": "in"}' WHEN 7 THEN '{"punch": "out"}'
                          WHEN 8 THEN '{"state": "closed"}' WHEN 9 THEN '{"alarm": "forced"}'
                          ELSE '{}' END::json
       FROM generate_series(1, :events) i,
            LATERAL (SELECT CAST(:now AS timestamptz)
                            - (i::float8 / :events) * make_interval(days => :days) AS t0) a,
            -- A twentieth of the events fall on any day, the rest on working days between
            -- 8:00 and 18:00: 週休日 and 休日 see few visitors.
            LATERAL (SELECT CASE WHEN i % 20 = 0 THEN t0 ELSE
                ((CAST(:workdays AS date[]))[1 + i % cardinality(CAST(:workdays AS date[]))]
                 + make_interval(mins => 480 + (i * 37) % 600)) AT TIME ZONE 'Asia/Tokyo'
                END AS ts) t""",
    """INSERT INTO audit_log (id, seq, prev_hash, hash, at, actor, action, entity, entity_id)
       SELECT i, i, md5((i - 1)::text), md5(i::text),
              CAST(:now AS timestamptz) - (i::float8 / :audit) * make_interval(days => :days),
              'admin' || i % 7, 'update', 'staff', (i % :staff)::text
       FROM generate_series(1, :audit) i""",
)


TABLES = ("site", "department", "staff", "credential", "door", "device", "event", "audit_log")


def seed(engine: Engine, *, now: datetime, scale: Scale) -> None:
    """Fill the tables the list queries read, then VACUUM ANALYZE them, as autovacuum would
    have on a live system, so the planner sees the counts and the visibility map."""
    today = now.date()
    closed = closed_days(None, today - timedelta(days=scale.days), today)
    days = (today - timedelta(days=n) for n in range(1, scale.days))
    params = {**scale.__dict__, "now": now,
              "workdays": [d for d in days if d.weekday() < 5 and d not in closed]}
    with engine.begin() as conn:
        for sql in _SQL:
            stmt = text(sql)
            conn.execute(stmt, {k: v for k, v in params.items() if k in stmt.compile().params})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"VACUUM ANALYZE {', '.join(TABLES)}"))
