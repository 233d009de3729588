"""Compact deltas, pure: for any two tables and any device scope, the agent's merge of
full(v1) and the compact delta v1→v2 is exactly full(v2) (staff, credentials, other_refs)."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from api.snapshot.tables import Scope, Table, changed, compact_lists, full_lists
from reader_agent.snapshot_cache import carries_changes, merge_payloads

DAY = date(2026, 11, 30)
STAFF = range(1, 7)
GROUPS = [1, 2, 3]
DATES = ["2020-04-01", "2026-11-30", "2026-12-01", None]

cred = st.fixed_dictionaries({
    "kind": st.sampled_from(["staff_ap", "pin"]),
    "status": st.sampled_from(["active", "revoked", "suspended"]),
    "public_key": st.sampled_from(["a2V5MQ==", "a2V5Mg=="]),
    "not_after": st.sampled_from([None, "2027-03-31T15:00:00.000Z"])})
person = st.none() | st.tuples(
    st.sampled_from(["山田", "佐藤"]), st.sampled_from(DATES[:3]), st.sampled_from(DATES),
    st.frozensets(st.sampled_from(GROUPS)), st.lists(cred, max_size=2))
town = st.fixed_dictionaries({s: person for s in STAFF})
scopes = st.builds(Scope, st.frozensets(st.sampled_from(GROUPS)), st.booleans())


def _table(version: int, rows: dict[int, Any], day: date = DAY) -> Table:
    staff, groups, creds, active, order = {}, {}, {}, {}, {}
    for sid, row in rows.items():
        if row is None:
            continue
        name, since, until, member_of, cs = row
        staff[sid] = (name, since, until)
        if member_of:
            groups[sid] = member_of
        # A ref always belongs to the same staff member; at most one per kind is active.
        entries = [{"ref": f"{sid}-{k}", "staff_id": sid, **c} for k, c in enumerate(cs)]
        creds[sid] = tuple(entries)
        for e in entries:
            order[e["ref"]] = sid * 10 + int(e["ref"].split("-")[1])
            if e["status"] == "active":
                active[e["ref"]] = sid
    today = day.isoformat()
    clock = frozenset(s for s in set(active.values())
                      if staff[s][1] <= today and (staff[s][2] is None or staff[s][2] >= today))
    return Table(version, day, staff, groups, creds, active, clock, order)


def _by_ref(creds: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["ref"]: c for c in creds}


@settings(max_examples=400, deadline=None)
@given(town, town, st.frozensets(st.sampled_from(STAFF)), scopes,
       st.sampled_from([DAY, date(2026, 12, 1)]))
def test_full_plus_compact_delta_is_the_new_full(before: dict[int, Any], other: dict[int, Any],
                                                 kept: frozenset[int], scope: Scope,
                                                 day: date) -> None:
    # Some people unchanged; the day may change too (who may punch at a clock point).
    after = {s: before[s] if s in kept else other[s] for s in STAFF}
    old, new = _table(1, before), _table(2, after, day)
    first = {"full": True, "version": 1, "since": None, **full_lists(old, scope)}
    delta = {"full": False, "compact": True, "version": 2, "since": 1,
             **compact_lists(old, new, scope, changed(old, new))}
    merged = merge_payloads([first, delta])
    want = full_lists(new, scope)
    assert merged["staff"] == want["staff"]
    assert _by_ref(merged["credentials"]) == _by_ref(want["credentials"])
    assert merged["other_refs"] == want["other_refs"]
    # A delta that changes nothing says so (the agent may drop it from its file).
    assert carries_changes(delta) == (full_lists(old, scope) != want)


@settings(max_examples=100, deadline=None)
@given(town, st.builds(Scope, st.frozensets(st.sampled_from(GROUPS)), st.just(False)))
def test_a_revocation_carries_one_credential_and_no_staff(rows: dict[int, Any],
                                                          scope: Scope) -> None:
    old = _table(1, rows)
    listed = [c for c in full_lists(old, scope)["credentials"] if c["status"] == "active"]
    if not listed:
        return
    target = listed[0]
    revoked = {**rows}
    name, since, until, member_of, cs = rows[target["staff_id"]]
    k = int(target["ref"].split("-")[1])
    revoked[target["staff_id"]] = (name, since, until, member_of,
                                   [*cs[:k], {**cs[k], "status": "revoked"}, *cs[k + 1:]])
    new = _table(2, revoked)
    delta = compact_lists(old, new, scope, changed(old, new))
    assert [(c["ref"], c["status"]) for c in delta["credentials"]] == [(target["ref"],
                                                                         "revoked")]
    assert delta["credentials_removed"] == delta["staff_removed"] == delta["staff"] == []
    assert delta["other_refs_added"] == delta["other_refs_removed"] == []
