"""Attendance settings (``MYNAGATE_ATTENDANCE_*``), turned into the pure rules' RuleConfig."""

from __future__ import annotations

from datetime import time
from functools import lru_cache
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings, SettingsConfigDict

from .rules import RuleConfig


class AttendanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_ATTENDANCE_", extra="ignore")

    timezone: str = "Asia/Tokyo"
    day_change: time = time(5, 0)  # 業務日の切替時刻
    divergence_threshold_min: int = 30  # 乖離 above this needs a reason
    weekly_off: str = "5,6"  # 週休日 weekdays, Monday = 0

    def rule_config(self) -> RuleConfig:
        return RuleConfig(tz=ZoneInfo(self.timezone), day_change=self.day_change,
                          divergence_threshold_min=self.divergence_threshold_min,
                          weekly_off=frozenset(int(x) for x in self.weekly_off.split(",") if x))


@lru_cache
def rule_config() -> RuleConfig:
    return AttendanceSettings().rule_config()
