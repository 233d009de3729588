"""The service settings as the CLI uses them: explicit, checked before any work, never guessed.

The service's own defaults (``sqlite:///var/mynagate.db``, ``var/``) are relative to the current
directory; a command run from the wrong directory would create an empty database there and then
fail on a missing table. So the CLI has no default database and no default data directory:
``MYNAGATE_DATABASE_URL`` and ``MYNAGATE_DATA_DIR`` must name the service's own, and only the
commands that create (``db upgrade``, ``serve``, ``locks demo``) may create them. The suggested
places, printed when one is missing, are :data:`SUGGESTED_DATA_DIR` and
:data:`SUGGESTED_DATABASE_URL` (docs/cli.md).
"""

from __future__ import annotations

from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from api.db import Database
from api.keys import load_or_create_signing_key
from api.locks.secrets import load_master, wrap_key
from api.locks.settings import LockSettings
from api.migrate import alembic_config
from api.models import PinMaster
from api.settings import Settings

from .errors import CliProblem

__all__ = ["SUGGESTED_DATABASE_URL", "SUGGESTED_DATA_DIR", "checked_lock_settings",
           "database_url", "open_database", "require_data_dir", "signing_key_file"]

SUGGESTED_DATA_DIR = "/var/lib/mynagate"
SUGGESTED_DATABASE_URL = "sqlite:////var/lib/mynagate/mynagate.db"
PIN_WRAP_FILE = "pin-wrap.key"
SIGNING_KEY_FILE = "service-signing-key.pem"
UPGRADE_HINT = "`mynagate db upgrade`"


def database_url(option: str | None, settings: Settings) -> str:
    """``--database-url`` or MYNAGATE_DATABASE_URL; there is no default."""
    url = option or (settings.database_url if "database_url" in settings.model_fields_set
                     else None)
    if not url:
        raise CliProblem("MYNAGATE_DATABASE_URL",
                         "MYNAGATE_DATABASE_URL が未設定です (例 " + SUGGESTED_DATABASE_URL + ")",
                         "MYNAGATE_DATABASE_URL is not set: name the service's database, e.g. "
                         + SUGGESTED_DATABASE_URL)
    return url


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError as err:
        raise CliProblem("MYNAGATE_DATABASE_URL", "MYNAGATE_DATABASE_URL の形式が不正です",
                         "MYNAGATE_DATABASE_URL is not a database URL") from err


def _sqlite_file(url: str) -> Path | None:
    u = make_url(url)
    if u.get_backend_name() != "sqlite" or u.database in (None, "", ":memory:"):
        return None
    return Path(u.database)


def open_database(url: str, *, create: bool = False) -> Database:
    """The service's database, migrated to this version's schema unless ``create``.

    Without ``create`` nothing is made: a SQLite file that is not there is refused, not created.
    """
    shown = _redacted(url)
    sqlite_file = _sqlite_file(url)
    if not create and sqlite_file is not None and not sqlite_file.is_file():
        raise CliProblem("MYNAGATE_DATABASE_URL",
                         f"データベースがありません: {sqlite_file} (MYNAGATE_DATABASE_URL を確認、"
                         f"新規なら {UPGRADE_HINT})",
                         f"no database at {sqlite_file}: check MYNAGATE_DATABASE_URL, or create "
                         f"it with {UPGRADE_HINT}")
    db = Database(url)
    if create:
        return db
    try:
        _require_current_schema(db, url, shown)
    except BaseException:
        db.dispose()
        raise
    return db


def _require_current_schema(db: Database, url: str, shown: str) -> None:
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    try:
        with db.engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except DBAPIError as err:
        raise CliProblem("MYNAGATE_DATABASE_URL",
                         f"データベースに接続できません: {shown} (MYNAGATE_DATABASE_URL)",
                         f"cannot connect to {shown} (MYNAGATE_DATABASE_URL): "
                         f"{str(err.orig).strip().splitlines()[0]}") from err
    if not current:
        raise CliProblem("MYNAGATE_DATABASE_URL",
                         f"データベース {shown} は空です。{UPGRADE_HINT} を実行してください",
                         f"the database at MYNAGATE_DATABASE_URL ({shown}) is empty: run "
                         f"{UPGRADE_HINT}")
    if current != heads:
        raise CliProblem("MYNAGATE_DATABASE_URL",
                         f"データベース {shown} のスキーマが古いか新しすぎます。{UPGRADE_HINT} を"
                         "実行してください",
                         f"the database at MYNAGATE_DATABASE_URL ({shown}) is at "
                         f"{', '.join(sorted(current))}, this mynagate needs "
                         f"{', '.join(sorted(heads))}: run {UPGRADE_HINT}")


def require_data_dir(settings: Settings, *, create: bool = False) -> Path:
    """MYNAGATE_DATA_DIR, the service's directory of keys; there is no default."""
    if "data_dir" not in settings.model_fields_set:
        raise CliProblem("MYNAGATE_DATA_DIR",
                         f"MYNAGATE_DATA_DIR が未設定です (例 {SUGGESTED_DATA_DIR})",
                         "MYNAGATE_DATA_DIR is not set: name the service's data directory, "
                         f"e.g. {SUGGESTED_DATA_DIR}")
    path = Path(settings.data_dir)
    if not create and not path.is_dir():
        raise CliProblem("MYNAGATE_DATA_DIR",
                         f"MYNAGATE_DATA_DIR のディレクトリがありません: {path}",
                         f"MYNAGATE_DATA_DIR names no directory: {path}")
    return path


def signing_key_file(settings: Settings, data_dir: Path) -> Path:
    """The service signing key (MYNAGATE_SIGNING_KEY_FILE, else in the data dir), loaded or
    made once to prove it is an Ed25519 key."""
    path = (settings.signing_key_file if "signing_key_file" in settings.model_fields_set
            else data_dir / SIGNING_KEY_FILE)
    try:
        load_or_create_signing_key(path)
    except (ValueError, TypeError, OSError) as err:
        raise CliProblem("MYNAGATE_SIGNING_KEY_FILE",
                         f"署名鍵を読めません: {path} (MYNAGATE_SIGNING_KEY_FILE)",
                         f"cannot load the signing key {path} (MYNAGATE_SIGNING_KEY_FILE): "
                         f"{str(err).strip().splitlines()[0] if str(err).strip() else err!r}"
                         ) from err
    return path


def checked_lock_settings(settings: Settings, db: Database) -> LockSettings:
    """Lock settings whose PIN wrap key opens the stored PIN master secret.

    Once a master is stored, a missing ``pin-wrap.key`` is refused: making a new one here would
    wrap nothing the service can open. Before that, there is nothing to check."""
    ls = LockSettings()
    if ls.pin_wrap_key is None:
        ls = LockSettings(data_dir=require_data_dir(settings))
    with db.session() as session:
        if session.get(PinMaster, 1) is None:
            return ls
        key_file = Path(ls.data_dir) / PIN_WRAP_FILE
        if ls.pin_wrap_key is None and not key_file.is_file():
            raise CliProblem("MYNAGATE_DATA_DIR",
                             f"{key_file} がありません (MYNAGATE_DATA_DIR か "
                             "MYNAGATE_PIN_WRAP_KEY をサービスと同じに)",
                             f"no {key_file}: set MYNAGATE_DATA_DIR (or MYNAGATE_PIN_WRAP_KEY) "
                             "as the service has it")
        try:
            wrap_key(ls)
        except ValueError as err:
            raise CliProblem("MYNAGATE_PIN_WRAP_KEY",
                             "PIN ラップ鍵が不正です (32 バイトの 16 進)",
                             "the PIN wrap key is not 32 bytes of hex (MYNAGATE_PIN_WRAP_KEY or "
                             "MYNAGATE_DATA_DIR/pin-wrap.key)") from err
        load_master(session, ls)  # InvalidTag: explained once, in errors.explain
    return ls
