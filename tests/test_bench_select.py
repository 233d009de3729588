"""``python -m bench.run`` selection: every figure by default, ``--only`` picks, groups work."""

from __future__ import annotations

import pytest

from bench.run import BENCHES, GROUPS, selected

ISSUE_13_FIGURES = {"tap_overhead", "tap_pcsc", "decide_throughput", "ingest_pg",
                    "revocation_fanout", "reconnect_storm", "attendance_month_20k",
                    "agent_rss", "pin_verify"}


def test_one_run_measures_every_figure_of_issue_13():
    assert set(selected([])) == ISSUE_13_FIGURES == set(BENCHES)


def test_only_selects_in_the_order_given():
    assert selected(["--only", "tap_pcsc", "--only", "pin_verify,ingest_pg"]) == [
        "tap_pcsc", "pin_verify", "ingest_pg"]


def test_group_names_still_work():
    assert selected(["agent"]) == GROUPS["agent"]
    assert all(name in BENCHES for names in GROUPS.values() for name in names)


def test_unknown_name_is_refused(capsys):
    with pytest.raises(SystemExit):
        selected(["--only", "tap_pcsc,nope"])
    assert "unknown benchmark nope" in capsys.readouterr().err
