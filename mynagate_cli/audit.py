"""``mynagate audit verify``: check the audit log's hash chain."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, help="The audit log")


@app.command()
def verify(url: str = typer.Option(None, help="database URL (default: "
                                              "MYNAGATE_DATABASE_URL)")) -> None:
    """Walk the whole chain; exit 1 naming the first row that was changed, removed or moved."""
    from api.audit.service import verify as verify_chain
    from api.db import Database
    from api.settings import get_settings

    db = Database(url or get_settings().database_url)
    try:
        with db.session() as s:
            result = verify_chain(s)
    finally:
        db.dispose()
    if result.ok:
        typer.echo(f"監査ログは改ざんされていません: {result.checked} 件を検証 "
                   f"(audit chain intact, {result.checked} rows)")
        return
    typer.echo(f"監査ログの検証に失敗: id {result.first_bad_id} (seq {result.first_bad_seq}): "
               f"{result.reason} — それ以前の {result.checked} 件は正常 "
               f"(audit chain broken at id {result.first_bad_id})", err=True)
    raise typer.Exit(1)
