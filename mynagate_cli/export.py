"""``mynagate export``: HR exports (打刻, 日次勤務実績, 月次時間外) with a progress bar."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="HR exports for the 庶務事務 system")

STAGES = {"amendments": "締め後の訂正を確認", "compute": "勤務実績を計算", "rows": "行を作成",
          "render": "ファイルを作成", "done": "完了"}


@app.command("run")
def run(
    datasets: list[str] = typer.Argument(  # noqa: B008
        ..., help="one or more of: punches (打刻), daily (日次勤務実績), monthly (月次時間外)"),
    month: str = typer.Option(..., help="the month, YYYY-MM"),
    fmt: str = typer.Option("cp932", "--format", help="cp932 | utf8bom | xlsx"),
    profile: str = typer.Option("standard", help="export profile name (single dataset)"),
    profile_version: int = typer.Option(None, help="profile version (default: newest)"),
    output: Path = typer.Option(None, "--output", "-o", help="file to write (single dataset)"),
    out_dir: Path = typer.Option(Path("."), "--out-dir", help="directory for the files"),
    allow_provisional: bool = typer.Option(False, "--allow-provisional",
                                           help="export even while readers have not delivered"),
    database_url: str = typer.Option(None, help="database URL (default: MYNAGATE_DATABASE_URL)"),
    actor: str = typer.Option("cli", help="who runs the export (audit log)"),
) -> None:
    """Export datasets for one month; a final (not provisional) export freezes the month."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from api.errors import MynagateError
    from api.exports.service import export_dataset, export_month
    from api.settings import get_settings
    from mynagate_cli.service_config import database_url as service_database_url
    from mynagate_cli.service_config import open_database

    console = Console(stderr=True)
    if output is not None and len(datasets) != 1:
        console.print("[red]error:[/red] --output takes a single dataset; use --out-dir")
        raise typer.Exit(2)
    db = open_database(service_database_url(database_url, get_settings()))
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(),
                      TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(),
                      console=console, transient=False) as bar:
            task = bar.add_task("準備", total=1)

            def progress(stage: str, done: int, total: int) -> None:
                bar.update(task, description=STAGES.get(stage, stage), completed=done,
                           total=total)

            with db.session() as session:
                try:
                    if len(datasets) == 1:
                        results = {datasets[0]: export_dataset(
                            session, dataset=datasets[0], month=month, file_format=fmt,
                            profile=profile, profile_version=profile_version,
                            allow_provisional=allow_provisional, actor=actor,
                            progress=progress)}
                    else:
                        results = export_month(session, datasets=datasets, month=month,
                                               file_format=fmt,
                                               allow_provisional=allow_provisional,
                                               actor=actor, progress=progress)
                    session.commit()
                except MynagateError as err:
                    session.rollback()
                    bar.stop()
                    console.print(f"[red]error:[/red] {err.message}")
                    raise typer.Exit(2) from None
        for out in results.values():
            path = output or out_dir / out.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(out.content)
            state = "PROVISIONAL (暫定)" if out.provisional else "final (確定)"
            console.print(f"{path}: {out.rows} rows, {out.amendments} amendments, {state}")
            if out.provisional:
                console.print(f"readers not yet delivered: {', '.join(out.lagging_devices)}")
    finally:
        db.dispose()


@app.command("profiles")
def profiles(database_url: str = typer.Option(
        None, help="database URL (default: MYNAGATE_DATABASE_URL)")) -> None:
    """List export profiles (built-in and the town's) with their columns."""
    from api.exports.service import list_profiles
    from api.settings import get_settings
    from mynagate_cli.service_config import database_url as service_database_url
    from mynagate_cli.service_config import open_database

    db = open_database(service_database_url(database_url, get_settings()))
    try:
        with db.session() as session:
            for p in list_profiles(session):
                cols = ", ".join(c["header"] for c in p["spec"]["columns"])
                typer.echo(f"{p['name']} v{p['version']} [{p['dataset']}]: {cols}")
    finally:
        db.dispose()
