"""``mynagate demo``: the scripted demo town hall, everything real and in one process.

A fresh SQLite database, the demo town seeded, the service under uvicorn on loopback, reader
agents enrolled through the device API with the ``sim:`` driver, virtual cards enrolled through
the admin API, then a scripted scenario whose every step prints one line with its outcome and
the decision's reason code. With ``--once`` it stops (agents first, then the server) and exits 0.
"""

from __future__ import annotations

import base64
import logging
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import typer

from gate.policy import CredentialStatus

app = typer.Typer()

JST = ZoneInfo("Asia/Tokyo")
ISSUER = "373222"
JPKI_PIN = "4821"  # the virtual JPKI card's PIN (a test card: never a real one)


class DemoFailed(Exception):
    """A demo step did not give the expected outcome."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _in_weekday_window(now: datetime) -> bool:
    """Whether ``now`` is inside the seeded 平日 schedule (Mon–Fri 8:00–20:00, not closed)."""
    import jpholiday

    local = now.astimezone(JST)
    d = local.date()
    closed = jpholiday.is_holiday(d) or (d.month, d.day) >= (12, 29) or (d.month, d.day) <= (1, 3)
    return local.weekday() < 5 and 8 <= local.hour < 20 and not closed


class _Server:
    def __init__(self, asgi: Any, host: str, port: int) -> None:
        import uvicorn

        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(uvicorn.Config(asgi, host=host, port=port,
                                                    log_level="warning", lifespan="on",
                                                    timeout_graceful_shutdown=3))
        self.thread = threading.Thread(target=self.server.run, name="demo-uvicorn", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise DemoFailed("サービスが起動しませんでした (uvicorn did not start)")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


# (username, role, staff number or None); the supervisor heads 総務課, where 1001 works.
DEMO_USERS = (("demo-admin", "admin", None), ("demo-security", "security", None),
              ("demo-hr", "hr", None), ("demo-supervisor", "supervisor", "1001"),
              ("demo-facility", "facility", None), ("demo-auditor", "auditor", None),
              ("demo-staff", "staff", "1002"))


def _demo_users(session: Any, ids: dict[str, Any], now: datetime) -> tuple[list[str], str]:
    """One user per role (passwords generated, TOTP for the roles that need it) and an API
    token for the demo's own admin calls: (lines to print, the token)."""
    from datetime import date

    from api.models import DepartmentSupervisor
    from api.users import service
    from api.users.roles import Role

    session.add(DepartmentSupervisor(department_id=ids["departments"]["somu"],
                                     staff_id=ids["staff"]["1001"],
                                     effective_from=date(2000, 4, 1)))
    lines, admin_id = [], 0
    for username, role, number in DEMO_USERS:
        new = service.create_user(session, username=username, role=Role(role), actor="demo",
                                  now=now, generate_password=True,
                                  staff_id=ids["staff"][number] if number else None)
        admin_id = admin_id or new.user.id
        totp = f"  TOTP: {new.totp_secret}" if new.totp_secret else ""
        lines.append(f"{role:<10} {username:<16} パスワード: {new.password}{totp}")
    _row, token = service.create_token(session, name="demo-script", role=Role.ADMIN,
                                       user_id=admin_id, actor="demo", now=now)
    return lines, token


def run_demo(data_dir: Path, host: str, port: int, once: bool,
             echo: Callable[[str], None] = typer.echo) -> None:
    import httpx
    from cryptography.hazmat.primitives import serialization

    from api.access import service as access_service
    from api.access.schemas import PermissionCreate
    from api.app import create_app
    from api.attendance.config import rule_config
    from api.attendance.service import daily_lines, format_line
    from api.db import Database
    from api.migrate import upgrade
    from api.seed import STAFF, seed_demo_town
    from api.settings import Settings
    from gate.clock import PunchKind
    from mynagate_cli.locks import DemoMailbox, demo_scenario
    from reader_agent.agent import AgentConfig, ReaderAgent, TapOutcome, enroll_agent
    from reader_agent.cards.jpki import VirtualJpkiCard, make_test_ca
    from reader_agent.cards.staff_ap import VirtualStaffCard
    from reader_agent.drivers.sim import forget_sim_readers, get_sim_reader
    from reader_agent.tap_source import SimKeypad, open_tap_source

    names = {number: name for number, name, *_ in STAFF}

    # 1. A fresh data dir and database.
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    db_url = f"sqlite:///{data_dir.resolve() / 'mynagate.db'}"
    settings = Settings(env="development", database_url=db_url, data_dir=data_dir,
                        signing_key_file=data_dir / "service-signing-key.pem",
                        session_cookie_secure=False)  # the demo serves plain HTTP on loopback
    upgrade(db_url)
    echo(f"データベースを作成しました: {db_url}")

    # 2. The demo town hall.
    db = Database(db_url)
    now = datetime.now(UTC)
    with db.session() as s:
        ids = seed_demo_town(s)
        extra_always = not _in_weekday_window(now)
        if extra_always:
            # Outside 平日 8:00–20:00 the archive tap would honestly be outside_schedule: give
            # 書庫利用者 a 常時 permission for the demo instead of faking the outcome.
            access_service.create_permission(s, PermissionCreate(
                group_id=ids["groups"]["archive_users"], door_id=ids["doors"]["shoko"],
                schedule_id=ids["schedules"]["always"]), actor="demo")
        logins, token = _demo_users(s, ids, now)
        s.commit()
    staff = ids["staff"]
    doors = ids["doors"]
    echo(f"デモ町役場を登録しました: 職員 {len(staff)} 名, 扉 {len(doors)} か所")
    echo(f"ログイン (役割ごとに 1 名, パスワードは今回のみ表示): {len(logins)} 名")
    for line in logins:
        echo(f"    {line}")
    if extra_always:
        echo("  (平日 8:00–20:00 の時間外のため、書庫利用者 × 書庫 × 常時 の権限をデモ用に追加)")

    # 3. The service.
    if not _port_free(host, port):
        busy, port = port, _free_port(host)
        echo(f"ポート {busy} は使用中のため {port} を使います")
    # The service's mail sender delivers to a local demo mail server (aiosmtpd on loopback).
    mailbox = DemoMailbox().start()
    asgi = create_app(settings)
    asgi.state.smtp_settings = mailbox.settings()
    server = _Server(asgi, host, port)
    agents: dict[str, ReaderAgent] = {}
    http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"},
                        timeout=10)
    try:
        server.start()
        echo(f"サービスを起動しました: {server.url}")

        def call(method: str, path: str, expect: int = 200, **kw: Any) -> Any:
            resp = http.request(method, path, **kw)
            if resp.status_code != expect:
                raise DemoFailed(f"{method} {path} → {resp.status_code}: {resp.text[:300]}")
            return resp.json()

        # 4. Cards and readers, through the admin and device APIs.
        ca_key, ca_cert = make_test_ca()
        yamada = VirtualStaffCard.generate(ISSUER)
        tanaka = VirtualStaffCard.generate(ISSUER)
        sato = VirtualStaffCard.generate(ISSUER)
        yamada_jpki = VirtualJpkiCard.generate(ca_key, ca_cert, JPKI_PIN)
        creds: dict[str, int] = {}
        for label, number, card in (("yamada", "1001", yamada), ("tanaka", "1005", tanaka),
                                    ("sato", "1002", sato)):
            creds[label] = call("POST", "/admin/credentials", 201, json={
                "staff_id": staff[number], "kind": "staff_ap",
                "credential_ref": card.credential_ref,
                "public_key": base64.b64encode(card.public_key).decode(),
                "issuer_code": ISSUER})["id"]
        spki = yamada_jpki.certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        call("POST", "/admin/credentials", 201, json={
            "staff_id": staff["1001"], "kind": "jpki_auth",
            "credential_ref": yamada_jpki.credential_ref,
            "public_key": base64.b64encode(spki).decode(),
            "not_after": yamada_jpki.certificate.not_valid_after_utc.isoformat()})
        echo(f"カードを登録しました: 職員カード 3 枚, 公的個人認証カード 1 枚 (API {len(creds) + 1} 件)")

        # The clock point's device clock: real time plus a shift, so the clock-in can be
        # "this morning" and the clock-out now (a day is not waited for; the shift is printed).
        shift = [timedelta(0)]

        def demo_clock() -> datetime:
            return datetime.now(UTC) + shift[0]

        keypad = SimKeypad()
        sources: dict[str, Any] = {}
        # The 書庫 and サーバ室 readers also serve 休日通用口 (one controller per corridor), so
        # every staff member's cards are in their snapshots and a refusal is decided on the
        # permissions (no_permission) rather than on an unknown card.
        scope = {"shoko": ["shoko", "kyujitsu"], "server": ["server", "kyujitsu"],
                 "clock-1f": ["clock-1f"]}
        for code, door_codes in scope.items():
            created = call("POST", "/admin/devices", 201, json={
                "name": f"demo-{code}", "door_ids": [doors[c] for c in door_codes]})
            agent_dir = data_dir / "agents" / code
            enroll_agent(agent_dir, server.url, created["enrollment_token"])
            # a new reader waits for the admin's confirmation (the console's devices page)
            call("POST", f"/admin/devices/{created['id']}/confirm", 200)
            is_clock = code == "clock-1f"
            agent = ReaderAgent(agent_dir, AgentConfig(f"sim:demo-{code}", doors[code]),
                                wait_s=2, upload_idle_s=0.05,
                                device_clock=demo_clock if is_clock else None)
            agents[code] = agent
            agent.heartbeat.run_once()
            agent.watcher.sync()
            if agent.cache.current is None:
                raise DemoFailed(f"{code}: スナップショットを取得できませんでした")
            if not is_clock:
                # The clock point runs no background workers: its device clock is moved for
                # the punches, and it uploads once the clock is back (below).
                agent.start()
            sources[code] = open_tap_source(f"sim:demo-{code}", keypad=keypad,
                                            jpki_cas=[ca_cert], pin_timeout=0.5)
        echo(f"読取端末を登録しました: {', '.join(agents)} (sim: ドライバ)")

        def tap(code: str, card: Any, explicit: Any = None) -> TapOutcome:
            reader = get_sim_reader(f"demo-{code}")
            reader.insert(card)
            try:
                authenticate = sources[code](1.0)
                if authenticate is None:
                    raise DemoFailed(f"{code}: カードが読めませんでした")
                return agents[code].tap(authenticate, explicit=explicit)
            finally:
                reader.remove()

        def step(n: int, text: str, out: TapOutcome, expect: str, verb: str = "解錠") -> None:
            verdict = verb if out.granted else "拒否"
            echo(f"[{n}] {text} → {verdict} {out.reason.value}")
            if out.reason.value != expect:
                raise DemoFailed(f"[{n}] expected {expect}, got {out.reason.value}")

        # 5. The scenario.
        step(1, f"書庫 {names['1001']}さん (職員カード)", tap("shoko", yamada), "granted")
        step(2, f"書庫 {names['1005']}さん (書庫利用者ではない)", tap("shoko", tanaka),
             "no_permission")
        step(3, f"サーバ室 {names['1001']}さん (暗証番号を入力せず)", tap("server", yamada_jpki),
             "pin_required")
        keypad.type_pin(JPKI_PIN)
        step(4, f"サーバ室 {names['1001']}さん (公的個人認証 + 正しい暗証番号, 情報政策ではない)",
             tap("server", yamada_jpki), "no_permission")

        call("POST", f"/admin/credentials/{creds['sato']}/lost", json={"reason": "紛失届"})
        t0 = time.monotonic()
        shoko = agents["shoko"]
        while True:
            cur = shoko.cache.current
            entry = cur.index.credential(sato.credential_ref) if cur else None
            if entry is not None and entry.status is CredentialStatus.LOST:
                break
            if time.monotonic() - t0 > 5:
                raise DemoFailed("紛失の届出が読取端末に届きませんでした (5 秒)")
            time.sleep(0.01)
        took_ms = (time.monotonic() - t0) * 1000
        echo(f"    {names['1002']}さんのカードを紛失として登録 (管理API) → 端末へ {took_ms:.0f} ms で反映")
        step(5, f"書庫 {names['1002']}さん (紛失カード)", tap("shoko", sato), "credential_lost")

        # Punches less than 60 s apart count as one: the clock-in is simulated earlier in the
        # same business day (from MYNAGATE_ATTENDANCE_DAY_CHANGE), up to 9 hours before now.
        bday = rule_config().business_day
        now = datetime.now(UTC)
        local = now.astimezone(JST)
        day_start = bday.start(bday.date_of(now)).astimezone(UTC)
        in_at = max(day_start + timedelta(minutes=1), now - timedelta(hours=9))
        out_shift = timedelta(0)
        if now - in_at < timedelta(seconds=61):  # just after 05:00: the clock-out goes ahead
            in_at, out_shift = now, timedelta(minutes=2)
        shift[0] = in_at - now
        clock_in = tap("clock-1f", yamada)
        shift[0] = out_shift
        clock_out = tap("clock-1f", yamada, explicit=PunchKind.OUT)
        shift[0] = timedelta(0)
        in_local = in_at.astimezone(JST)
        out_local = local + out_shift
        step(6, f"1階打刻 {names['1001']}さん 出勤 {in_local:%H:%M} (端末時計で模擬)", clock_in,
             "granted", verb="打刻")
        step(7, f"1階打刻 {names['1001']}さん 退勤 {out_local:%H:%M} (退勤ボタン)", clock_out,
             "granted", verb="打刻")
        kinds = [o.punch.kind.value if o.punch else None for o in (clock_in, clock_out)]
        if kinds != ["in", "out"]:
            raise DemoFailed(f"打刻の種類が想定外です: {kinds}")

        deadline = time.monotonic() + 10
        clock_agent = agents["clock-1f"]
        while clock_agent.outbox.stats()["pending"]:
            if time.monotonic() > deadline:
                raise DemoFailed("打刻を送信できませんでした (10 秒)")
            clock_agent.uploader.run_once()
        for agent in agents.values():
            while agent.outbox.stats()["pending"]:
                if time.monotonic() > deadline:
                    raise DemoFailed("イベントを送信できませんでした (10 秒)")
                agent.uploader.notify()
                time.sleep(0.02)
        with db.session() as s:
            line = daily_lines(s, staff["1001"], bday.date_of(now),
                               now=now + out_shift + timedelta(minutes=1))
        echo(f"[8] 勤怠 {format_line(line, name=names['1001'])}")

        page = call("GET", "/admin/events", params={"limit": 100})
        events = page["items"]
        taps = [e for e in events if e["kind"] in ("tap", "clock_punch")]
        echo(f"[9] GET /admin/events → {len(events)} 件 (うちタップ・打刻 {len(taps)} 件)")
        door_names = {v: k for k, v in doors.items()}
        for e in reversed(events[:5]):
            at = datetime.fromisoformat(e["occurred_at"]).astimezone(JST).strftime("%H:%M:%S")
            echo(f"    {at} {e['kind']:<11} {door_names.get(e['door_id'], '-'):<9} "
                 f"{e['reason'] or '-'}")
        if len(taps) < 7:
            raise DemoFailed(f"expected at least 7 tap events, got {len(taps)}")

        echo("[10] 施設予約 (支払済み → 暗証番号メール → キーボックス)")
        result = demo_scenario(db_url, data_dir, mailbox=mailbox,
                               echo=lambda t: echo(f"    {t}"))
        if not result["emailed"] or not result["opened"] or result["opened_outside_slot"]:
            raise DemoFailed(f"予約デモの結果が想定外です: {result}")

        echo(f"管理画面: {server.url}/console  (上のユーザー名とパスワード、TOTP のある役割は"
             f"認証アプリの 6 桁のコードでログイン)")
        echo(f"サービス: {server.url}  API ドキュメント: {server.url}/docs  "
             f"管理者の API トークン (demo-admin): {token}")
        echo(f"メール: デモ用メールサーバ 127.0.0.1:{mailbox.port} が受信します "
             f"(送信状況: GET /admin/mail)")
        if not once:
            echo("Ctrl-C で終了します")
            stop = threading.Event()

            def on_signal(signum: int, frame: Any) -> None:
                stop.set()

            # SIGINT (Ctrl-C) and SIGTERM both end the demo cleanly (also when SIGINT was
            # ignored by the launching shell, as for background jobs).
            previous = {sig: signal.signal(sig, on_signal)
                        for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                while server.thread.is_alive() and not stop.wait(0.5):
                    pass
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
            echo("終了します")
    finally:
        # Agents first: their long-polls would otherwise hold uvicorn's shutdown. Closing the
        # client cuts a long-poll short, which the watcher would log as a retry: hush it.
        logging.getLogger("reader_agent").setLevel(logging.CRITICAL)
        for agent in agents.values():
            agent.close()
        http.close()
        server.stop()
        mailbox.stop()
        forget_sim_readers()
        db.dispose()


@app.command()
def demo(
    once: bool = typer.Option(False, "--once", help="exit after the scenario"),
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, help="port to listen on (a free one if busy)"),
    data_dir: Path = typer.Option(None, help="demo data dir, wiped first (default: a new "
                                             "temporary directory, removed at the end)"),
) -> None:
    """The demo town hall: a scripted scenario through the real service and reader agents."""
    temporary = data_dir is None
    if data_dir is None:  # never a database in the current directory by accident
        data_dir = Path(tempfile.mkdtemp(prefix="mynagate-demo-"))
    typer.echo(f"デモのデータ / demo data: {data_dir}")
    try:
        run_demo(data_dir, host, port, once)
        # Everything the demo started is stopped: the server, the agents' workers, SMTP.
        deadline = time.monotonic() + 5
        while True:
            left = [t.name for t in threading.enumerate()
                    if t is not threading.main_thread() and t.is_alive()]
            if not left:
                break
            if time.monotonic() > deadline:
                raise DemoFailed(f"終了後もスレッドが残っています: {', '.join(left)}")
            time.sleep(0.05)
    except DemoFailed as err:
        typer.echo(f"デモ失敗: {err}", err=True)
        raise typer.Exit(1) from None
    finally:
        if temporary:
            shutil.rmtree(data_dir, ignore_errors=True)
