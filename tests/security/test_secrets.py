"""Finding 1 and the low findings of issue 9: no secret defaults open, files are private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from api.app import create_app
from api.locks.settings import LockSettings
from api.settings import Env, InsecureSettings, Settings

STRONG = "s3cret-0123456789abcdef"
WRAP = "11" * 32


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No MYNAGATE_* setting leaks in from the environment; cwd is an empty directory."""
    import os

    for name in list(os.environ):
        if name.startswith("MYNAGATE_"):
            monkeypatch.delenv(name)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)


def _build(tmp_path: Path, env: str | None = "production",
           webhook: str | None = STRONG, wrap: str | None = WRAP):  # type: ignore[no-untyped-def]
    kw: dict[str, object] = {"data_dir": tmp_path / "data"}
    if env is not None:
        kw["env"] = env
    lkw: dict[str, object] = {"data_dir": tmp_path / "data"}
    if webhook is not None:
        lkw["booking_webhook_secret"] = webhook
    if wrap is not None:
        lkw["pin_wrap_key"] = wrap
    app = create_app(Settings(**kw), lock_settings=LockSettings(**lkw))
    app.state.db.dispose()
    return app


def test_unset_env_is_production_not_development():
    assert Settings().env is Env.PRODUCTION


def test_unset_env_refuses_the_default_webhook_secret(tmp_path: Path):
    with pytest.raises(InsecureSettings, match="MYNAGATE_BOOKING_WEBHOOK_SECRET"):
        _build(tmp_path, env=None, webhook=None)


@pytest.mark.parametrize("env", ["production", "test"])
@pytest.mark.parametrize(("setting", "kw"), [
    ("MYNAGATE_BOOKING_WEBHOOK_SECRET", {"webhook": "changeme"}),
    ("MYNAGATE_BOOKING_WEBHOOK_SECRET", {"webhook": None}),
    ("MYNAGATE_BOOKING_WEBHOOK_SECRET", {"webhook": ""}),
    ("MYNAGATE_BOOKING_WEBHOOK_SECRET", {"webhook": "abc"}),
    ("MYNAGATE_PIN_WRAP_KEY", {"wrap": ""}),
    ("MYNAGATE_PIN_WRAP_KEY", {"wrap": "11" * 16}),
    ("MYNAGATE_PIN_WRAP_KEY", {"wrap": "00" * 32}),
    ("MYNAGATE_PIN_WRAP_KEY", {"wrap": "zz" * 32}),
])
def test_weak_secret_refuses_to_start_naming_the_setting(tmp_path: Path, env: str,
                                                          setting: str, kw: dict[str, str]):
    with pytest.raises(InsecureSettings, match=setting) as info:
        _build(tmp_path, env=env, **kw)  # type: ignore[arg-type]
    assert info.value.setting.startswith(setting)


@pytest.mark.parametrize("content", [b"", b"not a key", b"-----BEGIN PRIVATE KEY-----\n"])
def test_empty_or_broken_signing_key_refuses_to_start(tmp_path: Path, content: bytes):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "service-signing-key.pem").write_bytes(content)
    with pytest.raises(InsecureSettings, match="MYNAGATE_SIGNING_KEY_FILE"):
        _build(tmp_path)


def test_short_pin_wrap_key_file_refuses_to_start(tmp_path: Path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "pin-wrap.key").write_text("abcd\n")
    with pytest.raises(InsecureSettings, match="MYNAGATE_PIN_WRAP_KEY"):
        _build(tmp_path, wrap=None)


def test_explicit_development_accepts_the_defaults(tmp_path: Path):
    app = _build(tmp_path, env="development", webhook=None, wrap=None)
    assert app.state.lock_settings.booking_webhook_secret.get_secret_value() == \
        "dev-webhook-secret"


def test_key_and_database_files_are_0600_under_the_data_dir(tmp_path: Path):
    _build(tmp_path, wrap=None)
    data = tmp_path / "data"
    for name in ("mynagate.db", "service-signing-key.pem", "pin-wrap.key"):
        mode = stat.S_IMODE((data / name).stat().st_mode)
        assert mode == 0o600, f"{name} is {oct(mode)}"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert list(Path.cwd().iterdir()) == []  # nothing relative to the working directory


def test_paths_default_under_mynagate_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MYNAGATE_DATA_DIR", str(tmp_path / "elsewhere"))
    s = Settings()
    assert s.signing_key_path == tmp_path / "elsewhere" / "service-signing-key.pem"
    assert s.database_url == f"sqlite:///{tmp_path / 'elsewhere' / 'mynagate.db'}"
