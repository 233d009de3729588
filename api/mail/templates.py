"""The mail templates, through the gettext catalogs of ``mynagate_i18n`` (the ones the reader
display and the console use): Japanese by default, English with ``lang="en"``. Headers go
through ``header_text`` (one line, no controls); the sender sets To and Message-ID from the
outbox row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

from gate.messages import N_
from mynagate_i18n import DEFAULT_LANGUAGE, Language, translations

from .headers import header_text

JST = ZoneInfo("Asia/Tokyo")
# The weekdays and the date-time line of the booker's emails (msgids of mynagate_i18n).
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
DATE_TIME = N_("{day:%Y-%m-%d} ({weekday}) {day:%H:%M}")
DEFAULT_INSTRUCTIONS = N_(
    "Enter the 10-digit PIN on the keypad and press the confirm key. When you have finished, "
    "close the door and check that it is locked.")
FACILITY_NOTES = N_("The facility's own notes (in Japanese): {notes}")


@dataclass(frozen=True)
class PinLine:
    lock_name: str
    pin: str
    valid_from: datetime
    valid_until: datetime
    first_codes: tuple[str, ...] = ()  # revocation codes to enter first (offline key boxes)


def jst(dt: datetime, lang: str = DEFAULT_LANGUAGE) -> str:
    """A moment as the emails write it, in JST: 2026年11月30日(月) 10:00."""
    d = dt.astimezone(JST)
    gettext = translations(lang).gettext
    return gettext(DATE_TIME).format(day=d, weekday=gettext(WEEKDAYS[d.weekday()]))


def _pin_lines(pins: list[PinLine], lang: str) -> list[str]:
    _ = translations(lang).gettext
    lines = []
    for p in pins:
        lines.append(_("■ PIN ({lock}): {pin}").format(lock=p.lock_name, pin=p.pin))
        lines.append(_("  Valid: {start} to {end}").format(start=jst(p.valid_from, lang),
                                                           end=jst(p.valid_until, lang)))
        for code in p.first_codes:
            lines.append(_("  * Enter this code first: {code}").format(code=code))
            lines.append(_("    (the cancellation code of the previous booking: it does not "
                           "open the door. Then enter the PIN above)"))
    return lines


def _how_to(instructions: str, lang: str) -> str:
    """The facility's instructions are written in Japanese: another language gets the
    catalog's general instructions, and the facility's own after them, marked as Japanese."""
    _ = translations(lang).gettext
    if not instructions:
        return _(DEFAULT_INSTRUCTIONS)
    if lang == Language.JA:
        return instructions
    return "\n".join([_(DEFAULT_INSTRUCTIONS), _(FACILITY_NOTES).format(notes=instructions)])


def pin_email(*, to: str, booker_name: str, facility_name: str, facility_address: str,
              start: datetime, end: datetime, pins: list[PinLine], instructions: str,
              contact: str, booking_id: int, now: datetime,
              reissue: bool = False, lang: str = DEFAULT_LANGUAGE) -> EmailMessage:
    """The PIN email: facility, JST date and time, PIN(s), how to open and close, contact."""
    _ = translations(lang).gettext
    msg = EmailMessage()
    msg["To"] = to
    subject = (_("[Reissued] PIN for {facility} (booking {booking})") if reissue
               else _("[PIN] PIN for {facility} (booking {booking})"))
    msg["Subject"] = header_text(subject.format(facility=facility_name, booking=booking_id))
    msg["Date"] = format_datetime(now)
    lines = [_("Dear {name},").format(name=booker_name), "",
             _("We have received your booking and payment. Here is the PIN for your visit."),
             "", _("■ Facility: {facility}").format(facility=facility_name)]
    if facility_address:
        lines.append(_("■ Address: {address}").format(address=facility_address))
    lines.append(_("■ Date and time: {start} to {end} (Japan time)").format(
        start=jst(start, lang), end=jst(end, lang)))
    lines.append("")
    lines += _pin_lines(pins, lang)
    lines += ["", _("■ How to open and close"), _how_to(instructions, lang),
              "", _("After 5 or more wrong entries the keypad stops accepting input for a "
                    "while (the wait doubles from 1 minute up to 60 minutes)."),
              "", _("■ Contact: {contact}").format(contact=contact or _("Facility management")),
              "", _("Do not tell this PIN to anyone else."), _("This email is send-only.")]
    msg.set_content("\n".join(lines), charset="utf-8")
    return msg


def cancel_email(*, to: str, booker_name: str, facility_name: str, start: datetime,
                 end: datetime, booking_id: int, contact: str, now: datetime,
                 lang: str = DEFAULT_LANGUAGE) -> EmailMessage:
    """The notice that a booking was cancelled and its PINs no longer open."""
    _ = translations(lang).gettext
    msg = EmailMessage()
    msg["To"] = to
    msg["Subject"] = header_text(_("[Cancelled] Your booking of {facility} (booking {booking})"
                                   ).format(facility=facility_name, booking=booking_id))
    msg["Date"] = format_datetime(now)
    msg.set_content("\n".join([
        _("Dear {name},").format(name=booker_name), "",
        _("The following booking was cancelled. The PIN we sent no longer works."), "",
        _("■ Facility: {facility}").format(facility=facility_name),
        _("■ Date and time: {start} to {end} (Japan time)").format(start=jst(start, lang),
                                                                   end=jst(end, lang)),
        "", _("■ Contact: {contact}").format(contact=contact or _("Facility management"))]),
        charset="utf-8")
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
