"""RFC 3339 UTC times with milliseconds, as the device protocol and its snapshots write them."""

from __future__ import annotations

from datetime import UTC, datetime


def format_time(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
