"""``mynagate config``: validate a site file, render signed per-device bundles, install one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from firmware_config.models import SiteConfig

app = typer.Typer(no_args_is_help=True,
                  help="Device configuration (site.toml → signed per-device bundles)")

INSTALLED_BUNDLE = "config.bundle.json"


def _load_site_or_exit(site_file: Path) -> SiteConfig:
    from firmware_config.validate import ConfigError, load_site

    try:
        return load_site(site_file)
    except ConfigError as err:
        for issue in err.issues:
            typer.echo(str(issue), err=True)
        typer.echo(f"{len(err.issues)} 件のエラー / error(s) in {site_file}", err=True)
        raise typer.Exit(1) from err
    except OSError as err:
        typer.echo(f"{site_file} を読めません / cannot read {site_file}: {err.strerror}", err=True)
        raise typer.Exit(1) from err


@app.command()
def validate(
    site_file: Path = typer.Argument(..., help="the site file, e.g. site.toml"),
    production: bool = typer.Option(False, "--production",
                                    help="also refuse simulated card readers and door I/O"),
) -> None:
    """Check a site file; print file:line:col: message for every problem."""
    from firmware_config.validate import production_issues

    site = _load_site_or_exit(site_file)
    if production:
        issues = production_issues(site, site_file.read_text(encoding="utf-8"), str(site_file))
        for issue in issues:
            typer.echo(str(issue), err=True)
        if issues:
            typer.echo(f"{len(issues)} 件のエラー / error(s): not fit for production", err=True)
            raise typer.Exit(1)
    doors = sum(len(r.doors) for r in site.readers)
    typer.echo(f"OK: {site.name} ({site.municipality_code}) config_version "
               f"{site.config_version}: {len(site.readers)} readers, {doors} doors/clock "
               f"points, {len(site.locks)} locks")


@app.command()
def render(
    site_file: Path = typer.Argument(..., help="the site file"),
    key: Path = typer.Option(..., "--key", help="the service's Ed25519 signing key (PEM)"),
    out: Path = typer.Option(..., "--out", help="directory for <device>.bundle.json files"),
) -> None:
    """Write one bundle per reader, signed with the service key."""
    from firmware_config.bundle import BundleError, load_private_key, render_bundles

    site = _load_site_or_exit(site_file)
    try:
        paths = render_bundles(site, load_private_key(key), out)
    except BundleError as err:
        typer.echo(f"署名できません / cannot sign: {err}", err=True)
        raise typer.Exit(1) from err
    for p in paths:
        typer.echo(str(p))
    typer.echo(f"{len(paths)} bundles, config_version {site.config_version}")


@app.command("public-key")
def public_key(
    key: Path = typer.Option(..., "--key", help="the service's Ed25519 signing key (PEM)"),
) -> None:
    """Print the base64 public key to put in site.toml as trust.service_public_key."""
    from firmware_config.bundle import BundleError, load_private_key
    from gate.signing import public_key_b64

    try:
        typer.echo(public_key_b64(load_private_key(key).public_key()))
    except BundleError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(1) from err


@app.command()
def install(
    bundle: Path = typer.Argument(..., help="a <device>.bundle.json from `config render`"),
    data_dir: Path = typer.Option(..., "--data-dir", help="the enrolled agent's data directory"),
) -> None:
    """Verify a bundle against the enrolled service key and install it as the last good one."""
    from firmware_config.bundle import BundleError, load_bundle
    from reader_agent.config_updater import STATE_FILE, ConfigMark
    from reader_agent.keys import NotEnrolledError, load_identity

    try:
        identity = load_identity(data_dir)
    except NotEnrolledError as err:
        typer.echo(str(err), err=True)
        raise typer.Exit(2) from err
    mark = ConfigMark(data_dir / STATE_FILE)  # the highest version the agent ever accepted
    try:
        b = load_bundle(bundle, identity.service_key(), data_dir / INSTALLED_BUNDLE,
                        min_version=mark.version)
    except BundleError as err:
        typer.echo(f"設定バンドルを拒否しました / bundle refused: {err}", err=True)
        if err.last_good is not None:
            typer.echo(f"使用中 / still in force: config_version {err.last_good.config_version}",
                       err=True)
        raise typer.Exit(1) from err
    mark.raise_to(b.config_version)
    typer.echo(f"installed: {b.device} config_version {b.config_version} "
               f"→ {data_dir / INSTALLED_BUNDLE}")
