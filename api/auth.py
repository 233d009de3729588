"""Admin authentication: a bearer API token from settings (until the console adds users)."""

from __future__ import annotations

import hmac

from fastapi import Request

from .errors import Unauthorized


def require_admin(request: Request) -> str:
    """FastAPI dependency: the acting admin's name, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    expected = request.app.state.settings.admin_token.get_secret_value()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("a valid admin bearer token is required")
    return request.headers.get("x-actor", "admin")[:100]
