"""The Japanese mail templates. Headers go through ``header_text`` (one line, no controls);
the sender sets To and Message-ID from the outbox row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from .headers import header_text

JST = ZoneInfo("Asia/Tokyo")
WEEKDAYS_JA = "月火水木金土日"


@dataclass(frozen=True)
class PinLine:
    lock_name: str
    pin: str
    valid_from: datetime
    valid_until: datetime
    first_codes: tuple[str, ...] = ()  # revocation codes to enter first (offline key boxes)


def jst(dt: datetime) -> str:
    d = dt.astimezone(JST)
    return f"{d:%Y年%m月%d日}({WEEKDAYS_JA[d.weekday()]}) {d:%H:%M}"


def pin_email(*, to: str, booker_name: str, facility_name: str, facility_address: str,
              start: datetime, end: datetime, pins: list[PinLine], instructions: str,
              contact: str, booking_id: int, now: datetime,
              reissue: bool = False) -> EmailMessage:
    """The PIN email: facility, JST date and time, PIN(s), how to open and close, contact."""
    msg = EmailMessage()
    msg["To"] = to
    msg["Subject"] = header_text(f"【{'再発行' if reissue else '暗証番号'}】{facility_name} "
                                 f"ご利用の暗証番号（予約番号 {booking_id}）")
    msg["Date"] = format_datetime(now)
    lines = [f"{booker_name} 様", "",
             "施設のご予約とお支払いを確認しました。ご利用の暗証番号をお知らせします。", "",
             f"■ 施設: {facility_name}"]
    if facility_address:
        lines.append(f"■ 所在地: {facility_address}")
    lines.append(f"■ ご利用日時: {jst(start)} 〜 {jst(end)}（日本時間）")
    lines.append("")
    for p in pins:
        lines.append(f"■ 暗証番号（{p.lock_name}）: {p.pin}")
        lines.append(f"  有効期間: {jst(p.valid_from)} 〜 {jst(p.valid_until)}")
        for code in p.first_codes:
            lines.append(f"  ※ 最初にこのコードを入力してください: {code}")
            lines.append("    （前のご予約の取消コードです。入力しても扉は開きません。"
                         "続けて上の暗証番号を入力してください）")
    lines += ["", "■ 開け方・閉め方",
              instructions or ("テンキーで暗証番号10桁を入力し、最後に確認キーを押してください。"
                               "解錠後、ご利用が終わりましたら扉を閉めて施錠を確認してください。"),
              "", "入力を5回以上間違えると、しばらく入力できなくなります（待ち時間は1分から"
              "最大60分まで倍増します）。",
              "", f"■ お問い合わせ: {contact or '施設管理担当'}", "",
              "この暗証番号は他の方に知らせないでください。",
              "このメールは送信専用です。"]
    msg.set_content("\n".join(lines), charset="utf-8")
    return msg


def cancel_email(*, to: str, booker_name: str, facility_name: str, start: datetime,
                 end: datetime, booking_id: int, contact: str, now: datetime) -> EmailMessage:
    """The notice that a booking was cancelled and its PINs no longer open."""
    msg = EmailMessage()
    msg["To"] = to
    msg["Subject"] = header_text(f"【取消】{facility_name} ご予約の取消（予約番号 {booking_id}）")
    msg["Date"] = format_datetime(now)
    msg.set_content("\n".join([
        f"{booker_name} 様", "", "次のご予約は取り消されました。お知らせした暗証番号は使えません。",
        "", f"■ 施設: {facility_name}", f"■ ご利用日時: {jst(start)} 〜 {jst(end)}（日本時間）",
        "", f"■ お問い合わせ: {contact or '施設管理担当'}"]), charset="utf-8")
    return msg


def export_reminder_email(*, to: str, month: date, now: datetime) -> EmailMessage:
    """The monthly reminder to HR: export the attendance of ``month`` (its first day)."""
    msg = EmailMessage()
    msg["To"] = to
    label = f"{month.year}年{month.month}月"
    msg["Subject"] = header_text(f"【mynagate】{label}分の勤怠データの出力をお願いします "
                                 f"(export attendance for {month:%Y-%m})")
    msg["Date"] = format_datetime(now)
    msg.set_content("\n".join([
        "人事担当者 様", "",
        f"{label}分の勤怠データの出力（庶務事務システムへの取り込み用）をお願いします。",
        "管理画面の「出力」または `mynagate export` で出力できます。",
        "出力前に、打刻漏れ・乖離理由の未確認がないかご確認ください。", "",
        f"Please export the attendance for {month:%Y-%m} (console \"Exports\" or "
        "`mynagate export`), after checking for missing punches and unconfirmed divergences.",
        "", "このメールは送信専用です。"]), charset="utf-8")
    return msg
