"""Structured logs of the service: one JSON object per line, on stderr.

Every line carries ``timestamp``, ``level``, ``logger`` and ``event``, and, inside a request,
``request_id`` and (for device requests) ``device_id``, bound by ``api.metrics.middleware``.
The service's modules keep using ``logging.getLogger``; their records go through the same
renderer. Secrets never reach a line: values under secret-looking keys are replaced, and
runs of ten or more digits (PINs are ten digits, the individual number twelve) are masked
wherever they appear.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

__all__ = ["REDACTED", "configure_logging", "drop_duplicates", "redact"]

REDACTED = "[redacted]"
SECRET_KEY = re.compile(r"pin|token|secret|password|passphrase|authorization|signature|"
                        r"private|key$|wrap|master|cookie", re.I)
LONG_DIGITS = re.compile(r"\d{10,}")
# Keys structlog itself adds; never treated as secrets.
FRAMEWORK_KEYS = frozenset({"event", "level", "logger", "timestamp", "request_id", "device_id",
                            "exc_info", "exception"})


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return LONG_DIGITS.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: REDACTED if SECRET_KEY.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: drop secret-looking values, mask long digit runs."""
    for key in list(event):
        if key in FRAMEWORK_KEYS - {"event", "exception"}:
            continue  # ids and timestamps: hex digit runs are not PINs
        event[key] = REDACTED if SECRET_KEY.search(key) and key not in FRAMEWORK_KEYS \
            else _scrub(event[key])
    return event


def drop_duplicates(_logger: Any, _method: str,
                    event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Standard-library records bring their text twice (``message``; uvicorn: ``color_message``)."""
    event.pop("message", None)
    event.pop("color_message", None)
    return event


def _processors() -> list[Any]:
    return [structlog.contextvars.merge_contextvars, structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True)]


def configure_logging(level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """Route structlog and the standard library's logging to one JSON-lines handler."""
    shared = _processors()
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    drop_duplicates, structlog.processors.format_exc_info, redact,
                    structlog.processors.JSONRenderer(ensure_ascii=False)])
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, "mynagate_json", False)]
    handler.mynagate_json = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # The middleware logs each request (route template, no query string): uvicorn need not.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger, cache_logger_on_first_use=True)
