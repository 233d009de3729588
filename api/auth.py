"""Admin authentication: a bearer API token from settings (until the console adds users)."""

from __future__ import annotations

import hmac

from fastapi import Request

from gate.individual_number import holds_individual_number

from .errors import Unauthorized, Unprocessable
from .text import INDIVIDUAL_NUMBER_MESSAGE


def require_admin(request: Request) -> str:
    """FastAPI dependency: the acting admin's name (``X-Actor``, stored in the audit log, so
    guarded like every stored free text), or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = request.app.state.settings.admin_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("a valid admin bearer token is required")
    actor = request.headers.get("x-actor", "admin")[:100]
    if holds_individual_number(actor):
        raise Unprocessable(INDIVIDUAL_NUMBER_MESSAGE, field="X-Actor")
    return actor
