"""``mynagate card``: virtual TEST cards (make, list, insert, remove) and card enrollment.

Virtual cards let a town rehearse without hardware. They are files holding private keys:
test cards only, never a staff member's real card.
"""

from __future__ import annotations

import base64
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, help="Virtual test cards and card enrollment")

DIR_OPT = typer.Option(Path("var/cards"), "--dir", help="directory of the virtual card files")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(message, err=True)
    raise typer.Exit(code)


@app.command()
def make(
    name: str = typer.Argument(..., help="card name (file var/cards/<name>.json)"),
    kind: str = typer.Option("staff", "--kind", help="staff (staff card AP v1) | jpki"),
    issuer: str = typer.Option("372153", "--issuer",
                               help="全国地方公共団体コード (6 digits) for staff cards"),
    aid: str | None = typer.Option(None, "--aid", help="staff AP AID in hex (default F04D…01)"),
    pin: str | None = typer.Option(None, "--pin", help="JPKI test card PIN (4 digits)"),
    directory: Path = DIR_OPT,
) -> None:
    """Make a virtual test card."""
    from gate.card.staff_ap import DEFAULT_AID, parse_aid
    from reader_agent.cards.store import make_jpki_card, make_staff_card

    try:
        if kind == "staff":
            if not (len(issuer) == 6 and issuer.isdigit()):
                _fail("--issuer は6桁の数字です / --issuer must be 6 digits")
            card = make_staff_card(directory, name, issuer, parse_aid(aid) if aid else DEFAULT_AID)
            typer.echo(f"作成しました / made staff card {name}: credential {card.credential_ref}")
            typer.echo(f"public key (SEC1, base64): {base64.b64encode(card.public_key).decode()}")
        elif kind == "jpki":
            if pin is None or not (len(pin) == 4 and pin.isdigit()):
                _fail("--pin に4桁の数字を指定してください / --pin must be 4 digits")
            assert pin is not None
            jcard = make_jpki_card(directory, name, pin)
            typer.echo(f"作成しました / made JPKI test card {name}: "
                       f"certificate fingerprint {jcard.credential_ref}")
            typer.echo(f"test CA: {directory / '_test-ca.json'} (trust it only on test readers)")
        else:
            _fail("--kind は staff か jpki / --kind must be staff or jpki")
    except (ValueError, FileExistsError) as err:
        _fail(f"作成できません / cannot make card: {err}")


@app.command("list")
def list_(directory: Path = DIR_OPT) -> None:
    """List the virtual test cards."""
    from reader_agent.cards.store import list_cards

    cards = list_cards(directory) if directory.exists() else []
    if not cards:
        typer.echo("カードはありません / no cards")
        return
    for info in cards:
        inserted = " [inserted]" if _pid_of(directory, info.name) else ""
        typer.echo(f"{info.name:<20} {info.kind:<9} {info.credential_ref}  {info.detail}"
                   f"{inserted}")


def _pid_file(directory: Path, name: str) -> Path:
    return directory / f".{name}.inserted"


def _pid_of(directory: Path, name: str) -> int | None:
    try:
        pid = int(_pid_file(directory, name).read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def _serve_target(reader: str):  # type: ignore[no-untyped-def]
    """(factory, where) for ``pcsc[:host:port]`` or ``nfc:udp:host:port``."""
    from reader_agent.cards.nfc_target import NfcTypeBCard
    from reader_agent.cards.vpcd import VpcdCard

    scheme, _, rest = reader.partition(":")
    if scheme == "pcsc":
        host, _, port = rest.partition(":")
        host = host or "127.0.0.1"
        port_n = int(port) if port else 35963
        return (lambda card: VpcdCard(card, host, port_n)), f"vpcd {host}:{port_n}"
    if scheme == "nfc" and rest.startswith("udp:"):
        _, host, port = (rest.split(":") + ["", ""])[:3]
        host = host or "localhost"
        port_n = int(port) if port else 54321
        return (lambda card: NfcTypeBCard(card, host, port_n)), f"nfcpy udp {host}:{port_n}"
    _fail("--reader は pcsc[:host:port] か nfc:udp:host:port / --reader must be "
          "pcsc[:host:port] or nfc:udp:host:port (sim: readers live inside the agent/demo "
          "process)")
    raise AssertionError


@app.command()
def insert(
    name: str = typer.Argument(..., help="card name"),
    reader: str = typer.Option("pcsc", "--reader",
                               help="pcsc[:host:port] (vpcd) or nfc:udp:host:port"),
    directory: Path = DIR_OPT,
) -> None:
    """Present a virtual card to a reader stack until Ctrl-C (or `mynagate card remove`)."""
    from reader_agent.cards.jpki import VirtualJpkiCard
    from reader_agent.cards.store import load_card, save_card

    try:
        card = load_card(directory, name)
    except (OSError, ValueError) as err:
        _fail(f"カードを読めません / cannot load card {name}: {err}")
        return
    factory, where = _serve_target(reader)
    served = factory(card)
    stop = {"flag": False}

    def _stop(*_: object) -> None:
        stop["flag"] = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        served.insert()
    except OSError as err:
        _fail(f"接続できません / cannot reach {where}: {err}")
    _pid_file(directory, name).write_text(str(os.getpid()))
    typer.echo(f"カード {name} をかざしています / card {name} presented to {where} "
               "(Ctrl-C で取り外し / to remove)")
    try:
        while not stop["flag"] and served.inserted:
            time.sleep(0.2)
    finally:
        served.remove()
        _pid_file(directory, name).unlink(missing_ok=True)
        if isinstance(card, VirtualJpkiCard):  # keep the PIN tries counter, like a chip
            save_card(directory, name, card, overwrite=True)
    typer.echo(f"カード {name} を取り外しました / card {name} removed")


@app.command()
def remove(name: str = typer.Argument(..., help="card name"), directory: Path = DIR_OPT) -> None:
    """Remove a card presented by `mynagate card insert` (signals that command)."""
    pid = _pid_of(directory, name)
    if pid is None:
        _fail(f"カード {name} はかざされていません / card {name} is not inserted")
        return
    os.kill(pid, signal.SIGTERM)
    for _ in range(50):
        if _pid_of(directory, name) is None:
            break
        time.sleep(0.1)
    typer.echo(f"カード {name} を取り外しました / card {name} removed")


def _load_cas(paths: list[Path]) -> list:  # type: ignore[type-arg]
    """The JPKI CA certificates an enrollment checks the chain against (at least one)."""
    from cryptography import x509

    if not paths:
        _fail("--kind jpki には --jpki-ca (JPKI 利用者証明用CAの証明書) が必要です / --kind jpki "
              "needs --jpki-ca: the chain is checked before the PIN")
    try:
        return [x509.load_pem_x509_certificate(p.read_bytes()) for p in paths]
    except (OSError, ValueError) as err:
        _fail(f"--jpki-ca を読めません / cannot read --jpki-ca: {err}")
        raise AssertionError from err


def _service_precheck(http, enrollment_id: int):  # type: ignore[no-untyped-def]
    """Ask the service whether it would accept the certificate, before the PIN."""
    from reader_agent.card_auth import CertificateRefused

    def precheck(der: bytes) -> None:
        r = http.post(f"/admin/enrollments/{enrollment_id}/certificate",
                      json={"certificate": base64.b64encode(der).decode()})
        if r.status_code != 200:
            try:
                detail = r.json().get("detail", r.text)
            except ValueError:
                detail = r.text
            raise CertificateRefused(f"the service refuses the certificate: {detail}")

    return precheck


@app.command()
def enroll(
    reader: str = typer.Option(..., "--reader", help="enrollment reader URI (pcsc:…, nfc:…)"),
    service: str = typer.Option(..., "--service", help="service base URL"),
    token: str = typer.Option(..., "--token", envvar="MYNAGATE_ADMIN_TOKEN",
                              help="admin bearer token (or MYNAGATE_ADMIN_TOKEN)"),
    staff_number: str | None = typer.Option(None, "--staff-number", help="職員番号"),
    staff_id: int | None = typer.Option(None, "--staff-id"),
    enrollment: int | None = typer.Option(
        None, "--enrollment", help="an enrollment opened on the console (its number): read "
                                   "the card for it, then confirm on the console"),
    aid: str | None = typer.Option(None, "--aid", help="staff AP AID in hex"),
    kind: str = typer.Option("staff", "--kind",
                             help="staff (staff card AP) | jpki (JPKI auth certificate; the "
                                  "holder types the PIN)"),
    wait: float = typer.Option(30.0, "--wait", help="seconds to wait for the card"),
    jpki_ca: list[Path] = typer.Option([], "--jpki-ca", help="JPKI authentication CA "
                                       "certificate (PEM), required with --kind jpki: the "
                                       "chain is checked before the PIN"),
    yes: bool = typer.Option(False, "--yes", help="confirm without asking"),
) -> None:
    """Enroll a staff card at an enrollment reader: read, prove possession, confirm.

    A JPKI card is checked before the holder types the PIN (validity now, chain to --jpki-ca,
    and with the service: key type, not already registered), so a card that would be refused
    never costs a PIN try.
    """
    import httpx

    from gate.card.apdu import ResponseError
    from gate.card.staff_ap import DEFAULT_AID, parse_aid
    from reader_agent.card_auth import (
        CertificateRefused,
        PinRefused,
        read_for_enrollment,
        read_jpki_for_enrollment,
    )
    from reader_agent.drivers import CardError, open_reader

    if [staff_number, staff_id, enrollment].count(None) != 2:
        _fail("--staff-number, --staff-id, --enrollment のどれか一つ / give one of "
              "--staff-number, --staff-id, --enrollment")
    if kind not in ("staff", "jpki"):
        _fail("--kind は staff か jpki / --kind must be staff or jpki")
    cas = _load_cas(jpki_ca) if kind == "jpki" else []
    who: dict[str, object] = {"staff_number": staff_number} if staff_number else \
        {"staff_id": staff_id}
    who["kind"] = "jpki_auth" if kind == "jpki" else "staff_ap"
    headers = {"Authorization": f"Bearer {token}", "X-Actor": "cli-enroll"}
    with httpx.Client(base_url=service.rstrip("/"), headers=headers, timeout=10) as http:
        r = http.get(f"/admin/enrollments/{enrollment}") if enrollment else \
            http.post("/admin/enrollments", json=who)
        if r.status_code not in (200, 201):
            _fail(f"開始できません / cannot start: {r.status_code} {r.text}")
        started = r.json()
        if enrollment and started["kind"] != who["kind"]:
            _fail(f"この登録は --kind {'jpki' if started['kind'] == 'jpki_auth' else 'staff'} "
                  f"です / this enrollment is of kind {started['kind']}")
        typer.echo("カードをかざしてください / present the card …")
        try:
            card_reader = open_reader(reader)
            try:
                channel = card_reader.wait_for_card(wait)
                if channel is None:
                    _fail("カードが見つかりません / no card within the wait")
                    return
                challenge = base64.b64decode(started["challenge"])
                if kind == "jpki":
                    reading = read_jpki_for_enrollment(
                        channel, challenge, show=typer.echo, now=datetime.now(UTC),
                        ca_certs=cas, precheck=_service_precheck(http, started["id"]),
                        read_pin=lambda: typer.prompt("暗証番号 (4桁) / PIN", hide_input=True))
                else:
                    reading = read_for_enrollment(channel, challenge,
                                                  aid=parse_aid(aid) if aid else DEFAULT_AID)
            finally:
                card_reader.close()
        except (CardError, ResponseError) as err:
            _fail(f"カードを読めません / card error: {err}")
            return
        except CertificateRefused as err:
            _fail(f"暗証番号の入力前に中止しました (照合回数は減っていません) / stopped before "
                  f"the PIN, no try spent: {err}")
            return
        except PinRefused as err:
            _fail(f"暗証番号で中止しました / stopped at the PIN: {err}")
            return
        field = "certificate" if kind == "jpki" else "credential_record"
        r = http.post(f"/admin/enrollments/{started['id']}/response",
                      json={field: base64.b64encode(reading.record).decode(),
                            "signature": base64.b64encode(reading.signature).decode()})
        if r.status_code != 200:
            _fail(f"所持確認に失敗 / possession not proven: {r.status_code} {r.text}")
        answered = r.json()
        typer.echo(f"所持を確認しました / possession proven: credential "
                   f"{answered['credential_ref']} for staff {answered['staff_id']}")
        if enrollment:
            typer.echo("コンソールで確定してください / confirm it on the console")
            return
        if not yes and not typer.confirm("登録を確定しますか / confirm the binding?"):
            typer.echo(f"未確定のままです / left pending: enrollment {started['id']}")
            return
        r = http.post(f"/admin/enrollments/{started['id']}/confirm")
        if r.status_code != 200:
            _fail(f"確定できません / cannot confirm: {r.status_code} {r.text}")
        done = r.json()
        replaced = done.get("replaced_credential_id")
        typer.echo(f"登録しました / enrolled: credential id {done['credential_id']}"
                   + (f" (replaced {replaced}, now revoked)" if replaced else ""))
