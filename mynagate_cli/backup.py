"""``mynagate backup``: create and restore encrypted backups (database dump + keys).

The passphrase comes from ``MYNAGATE_BACKUP_PASSPHRASE`` or is asked for; it is never an
option, so it never shows in the process list or the shell history. Needs the ``server``
extra (this module imports the service at its top; a reader host lists it as unavailable).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import typer

from api.backup import BackupError
from api.backup.service import Paths, create_backup, restore_backup
from api.locks.settings import LockSettings
from api.settings import get_settings

from .service_config import SIGNING_KEY_FILE, require_data_dir
from .service_config import database_url as service_database_url

app = typer.Typer(no_args_is_help=True,
                  help="Encrypted backups of the database and the keys (create, restore)")

PASSPHRASE_ENV = "MYNAGATE_BACKUP_PASSPHRASE"
MIN_PASSPHRASE = 12


def _paths(database_url: str | None, *, restoring: bool) -> Paths:
    """The service's database and data directory, named explicitly (never guessed from the
    current directory); a restore may recreate a data directory that was lost."""
    settings = get_settings()
    url = service_database_url(database_url, settings)
    data_dir = require_data_dir(settings, create=restoring)
    key = (settings.signing_key_file if "signing_key_file" in settings.model_fields_set
           else data_dir / SIGNING_KEY_FILE)
    return Paths(database_url=url, signing_key_file=Path(key),
                 lock_settings=LockSettings(data_dir=data_dir))


def _passphrase(confirm: bool) -> str:
    given = os.environ.get(PASSPHRASE_ENV)
    passphrase = given if given is not None else typer.prompt(
        "バックアップのパスフレーズ / backup passphrase", hide_input=True,
        confirmation_prompt=confirm)
    if confirm and len(passphrase) < MIN_PASSPHRASE:
        _fail(f"パスフレーズは{MIN_PASSPHRASE}文字以上 / the passphrase needs at least "
              f"{MIN_PASSPHRASE} characters ({PASSPHRASE_ENV})")
    return passphrase


def _fail(message: str) -> None:
    typer.echo(f"mynagate backup: {message}", err=True)
    raise typer.Exit(1)


@app.command()
def create(
    output: Path = typer.Option(..., "--output", "-o", help="the archive to write"),
    database_url: str = typer.Option(None, help="database URL (default: MYNAGATE_DATABASE_URL)"),
) -> None:
    """Write one encrypted archive: database dump, signing key, PIN wrap key."""
    paths = _paths(database_url, restoring=False)
    try:
        manifest = create_backup(paths, output, _passphrase(confirm=True), now=datetime.now(UTC))
    except BackupError as err:
        _fail(str(err))
        return
    typer.echo(f"バックアップを作成しました / backup written: {output} "
               f"(schema {manifest['schema_revision']}, {output.stat().st_size} bytes)")


@app.command()
def restore(
    archive: Path = typer.Argument(..., help="the archive from `mynagate backup create`"),
    yes: bool = typer.Option(False, "--yes", help="replace a non-empty database and other keys"),
    database_url: str = typer.Option(None, help="database URL (default: MYNAGATE_DATABASE_URL)"),
) -> None:
    """Take a backup back: the database, the service signing key and the PIN wrap key."""
    paths = _paths(database_url, restoring=True)
    try:
        manifest = restore_backup(paths, archive, _passphrase(confirm=False), overwrite=yes,
                                  now=datetime.now(UTC))
    except BackupError as err:
        _fail(str(err))
        return
    typer.echo(f"復元しました / restored the backup of {manifest['created_at']} "
               f"(schema {manifest['schema_revision']}); run `mynagate db upgrade` if this "
               "service is newer")
