"""Attendance settings (``MYNAGATE_ATTENDANCE_*``), turned into the pure rules' RuleConfig."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from .rules import RuleConfig


class AttendanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_ATTENDANCE_", extra="ignore")

    timezone: str = "Asia/Tokyo"
    day_change: time = time(5, 0)  # 業務日の切替時刻
    divergence_threshold_min: int = 30  # 乖離 above this needs a reason
    weekly_off: str = "5,6"  # 週休日 weekdays, Monday = 0
    # A device punch stamped more than this ahead of the service's clock when it arrives is
    # quarantined (an alarm; never counted).
    future_punch_margin_min: int = Field(default=10, ge=0, le=24 * 60)

    def rule_config(self) -> RuleConfig:
        return RuleConfig(tz=ZoneInfo(self.timezone), day_change=self.day_change,
                          divergence_threshold_min=self.divergence_threshold_min,
                          weekly_off=frozenset(int(x) for x in self.weekly_off.split(",") if x),
                          future_margin_min=self.future_punch_margin_min)


@lru_cache
def rule_config() -> RuleConfig:
    return AttendanceSettings().rule_config()


def is_future_punch(kind: str, occurred_at: datetime, offset_ms: int | None,
                    now: datetime) -> bool:
    """A clock punch whose corrected time lies more than the margin after its arrival: the
    ingest quarantines it (an alarm; attendance never counts it)."""
    if kind != "clock_punch":
        return False
    at = occurred_at + timedelta(milliseconds=offset_ms or 0)
    return at > now + timedelta(minutes=rule_config().future_margin_min)
