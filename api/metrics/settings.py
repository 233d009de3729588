"""Settings of ``/metrics``, read from ``MYNAGATE_*`` environment variables.

The scrape token is its own secret, not the admin token: a Prometheus server holding it can
read counts and nothing else. Outside ``MYNAGATE_ENV=development`` an empty, published or
short token keeps ``/metrics`` closed.
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_TOKENS = frozenset({"", "changeme", "dev-metrics-token", "secret", "password"})
MIN_TOKEN_CHARS = 16
DEVELOPMENT = "development"


class MetricsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MYNAGATE_", extra="ignore")

    metrics_token: SecretStr = SecretStr("")
    # A device counts as online if its last heartbeat is at most this old.
    metrics_online_window_s: int = 120

    def token_problem(self, env: str) -> str | None:
        """Why the token cannot protect ``/metrics`` in ``env``, or None."""
        if str(env) == DEVELOPMENT:
            return None
        token = self.metrics_token.get_secret_value()
        if token in PLACEHOLDER_TOKENS:
            return "is empty or a published default"
        if len(token) < MIN_TOKEN_CHARS:
            return f"is shorter than {MIN_TOKEN_CHARS} characters"
        return None
