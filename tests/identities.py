"""Test identities: a user and an API token made straight in the test database (no audit
rows, so tests that count audit rows see only their own)."""

from __future__ import annotations

import uuid

from api.db import Database
from api.models import ApiToken, User
from api.users import repository as users_repo
from api.users.roles import Role
from api.users.secrets import UNUSABLE_PASSWORD, new_token, token_digest


def make_token(db: Database, username: str, role: Role | str, *,
               staff_id: int | None = None) -> str:
    """A bearer token acting as ``username`` (created if missing) in ``role``."""
    with db.session() as s:
        user = users_repo.user_by_name(s, username)
        if user is None:
            user = User(username=username, role=Role(role).value,
                        password_hash=UNUSABLE_PASSWORD, staff_id=staff_id)
            s.add(user)
            s.flush()
        token = new_token("mng")
        s.add(ApiToken(name=f"{username}-{uuid.uuid4().hex[:8]}", token_hash=token_digest(token),
                       role=Role(role).value, user_id=user.id, created_by="tests"))
        s.commit()
    return token
