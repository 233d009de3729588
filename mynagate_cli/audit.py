"""``mynagate audit verify``: check the audit log's hash chain."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="The audit log")


def _key_path(option: Path | None) -> Path | None:
    """``--signing-key``, else MYNAGATE_SIGNING_KEY_FILE, else the one in MYNAGATE_DATA_DIR;
    None when none is named or the file is not there (never made here)."""
    from api.settings import get_settings
    from mynagate_cli.service_config import SIGNING_KEY_FILE

    settings = get_settings()
    path = option
    if path is None and "signing_key_file" in settings.model_fields_set:
        path = settings.signing_key_file
    if path is None and "data_dir" in settings.model_fields_set:
        path = settings.data_dir / SIGNING_KEY_FILE
    return path if path is not None and path.is_file() else None


@app.command()
def verify(url: str = typer.Option(None, help="database URL (default: "
                                              "MYNAGATE_DATABASE_URL)"),
           signing_key: Path = typer.Option(None, "--signing-key", help="the service's "
                                            "signing key, which signed the retention summaries "
                                            "(default: MYNAGATE_SIGNING_KEY_FILE)")) -> None:
    """Check the retention summaries, then walk the chain from the newest one's anchor (or from
    the first row); exit 1 naming the first summary or row that was changed, removed or moved."""
    from api.audit.service import verify as verify_chain
    from api.keys import load_or_create_signing_key
    from api.settings import get_settings
    from mynagate_cli.service_config import database_url, open_database

    key_file = _key_path(signing_key)
    public_key = load_or_create_signing_key(key_file).public_key() if key_file else None
    db = open_database(database_url(url, get_settings()))
    try:
        with db.session() as s:
            result = verify_chain(s, public_key)
    finally:
        db.dispose()
    pruned = (f"、保存期間切れの {result.summaries} 回分は署名付き要約で検証、seq "
              f"{result.start_seq} から" if result.summaries else "")
    if result.ok:
        typer.echo(f"監査ログは改ざんされていません: {result.checked} 件を検証{pruned} "
                   f"(audit chain intact, {result.checked} rows from seq {result.start_seq}, "
                   f"{result.summaries} retention summaries)")
        return
    where = (f"id {result.first_bad_id} (seq {result.first_bad_seq})"
             if result.first_bad_id is not None else f"seq {result.first_bad_seq}")
    typer.echo(f"監査ログの検証に失敗: {where}: {result.reason} — それ以前の {result.checked} "
               f"件は正常 (audit chain broken at {where})", err=True)
    raise typer.Exit(1)
