"""Clock points: turn a granted tap into a 出勤/退勤 punch (rules in ``gate.clock``).

The remembered punch per staff member lives in the outbox database and is written in the same
transaction as the events, so after a crash the clock point and the event log agree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from gate.business_day import DEFAULT_DAY_CHANGE
from gate.clock import Punch, PunchKind, feedback_text, overtime_text, punch
from mynagate_i18n import translations

from .outbox import Outbox

log = logging.getLogger(__name__)


def day_change_of(payload: Mapping[str, Any]) -> time:
    """The business-day change the service put in the snapshot (``HH:MM``); 05:00 from a
    service too old to send one."""
    raw = payload.get("day_change")
    if raw is None:
        return DEFAULT_DAY_CHANGE
    try:
        return time.fromisoformat(str(raw))
    except ValueError:
        log.error("agent.snapshot.bad_day_change value=%r", str(raw)[:20])
        return DEFAULT_DAY_CHANGE


def classify(outbox: Outbox, *, staff_id: int, now: datetime, tz: ZoneInfo,
             explicit: PunchKind | None = None, day_change: time = DEFAULT_DAY_CHANGE) -> Punch:
    """The punch this tap makes, given what the clock point remembers for the staff member."""
    return punch(outbox.punch_state(staff_id), staff_id=staff_id, now=now, tz=tz,
                 explicit=explicit, day_change=day_change)


def punch_event_data(p: Punch) -> dict[str, object]:
    data: dict[str, object] = {"punch": p.kind.value, "business_date": p.business_date.isoformat()}
    if p.kind is PunchKind.REPEAT:
        data["repeats"] = p.counted_kind.value
    return data


def greeting(p: Punch, name: str, tz: ZoneInfo, lang: str = "ja",
             overtime: tuple[int, int] | None = None) -> str:
    """The greeting; on a 退勤 with ``overtime`` (minutes, cap), a second line with the month's
    overtime against the cap, so staff see a cap coming before HR does."""
    gettext = translations(lang).gettext
    text = feedback_text(p, name or "—", gettext, tz)
    if overtime is not None and p.kind is PunchKind.OUT:
        text += "\n" + overtime_text(overtime[0], overtime[1], gettext)
    return text
