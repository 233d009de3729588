"""The reader display and the emails read their texts from the gettext catalogs of
``mynagate_i18n`` (the ones the console merges into its own): every marked msgid is in the
Japanese catalog and compiled; the Japanese and English texts are the catalog's (a changed
catalog entry changes what the reader shows and what the mail says)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

import mynagate_i18n
from api.console.rendering import translations as console_translations
from api.mail.templates import PinLine, cancel_email, pin_email
from gate.clock import PunchKind, punch
from gate.messages import REASON_MESSAGES, reason_text
from gate.policy import JST, Reason
from mynagate_i18n import DOMAIN, LANGUAGES, LOCALE_DIR, translations
from reader_agent.clock_point import greeting

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("gate/messages.py", "gate/clock.py", "api/mail/templates.py")  # = babel.cfg
START = datetime(2026, 12, 5, 1, 0, tzinfo=UTC)  # 10:00 JST, a Saturday
END = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def _catalog(lang: str, ext: str):  # type: ignore[no-untyped-def]
    with open(LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.{ext}", "rb") as f:
        return read_po(f) if ext == "po" else read_mo(f)


def _marked() -> set[str]:
    return {m[1] for path in SOURCES
            for m in extract_from_file("python", ROOT / path, keywords={"N_": None, "_": None})}


def test_the_babel_config_names_the_sources() -> None:
    config = (ROOT / "mynagate_i18n" / "babel.cfg").read_text(encoding="utf-8")
    assert {line.strip("[]").split(": ")[1] for line in config.splitlines() if line} == \
        set(SOURCES)


def test_every_marked_text_is_in_the_catalogs_translated_and_compiled() -> None:
    marked = _marked()
    assert set(REASON_MESSAGES.values()) <= marked and "Dear {name}," in marked
    for lang in LANGUAGES:
        po, mo = _catalog(lang, "po"), _catalog(lang, "mo")
        assert marked <= {m.id for m in po if m.id}, f"{lang}: run pybabel update"
        assert {m.id: m.string for m in po if m.id and m.string} == \
            {m.id: m.string for m in mo if m.id}, f"{lang}: the .mo is stale"
    for lang in LANGUAGES:  # English too: the en catalog holds its own text, not a fallback
        po = _catalog(lang, "po")
        missing = sorted(msg for msg in marked if not po[msg].string or po[msg].fuzzy)
        assert missing == [], f"untranslated or fuzzy {lang} messages"


def test_the_display_texts_are_the_catalogs() -> None:
    ja = _catalog("ja", "po")
    for reason, msgid in REASON_MESSAGES.items():
        shown = reason_text(reason, translations("ja").gettext)
        assert shown == ja[msgid].string and shown != msgid
        assert reason_text(reason, translations("en").gettext) == msgid
    assert translations("fr").gettext("Wrong PIN") == "暗証番号が違います"  # Japanese default
    p = punch(None, staff_id=1, now=datetime(2026, 12, 1, 8, 27, tzinfo=JST))
    assert p.kind is PunchKind.IN
    assert greeting(p, "山田", JST, "ja") == "おはようございます 山田さん 08:27 出勤"
    assert greeting(p, "Yamada", JST, "en") == "Good morning, Yamada 08:27 clock-in"


def test_the_console_reads_the_same_catalog() -> None:
    assert console_translations("ja").gettext("Please enter your PIN") == "暗証番号を入力してください"
    assert console_translations("ja").gettext("Holiday entry record") == "休日入退庁記録"
    # a msgid in both: the console keeps its alarm label, the door its sentence
    assert console_translations("ja").gettext("Card authentication failed") == "カード認証失敗"
    assert reason_text(Reason.CARD_AUTH_FAILED, translations("ja").gettext) == \
        "カードを認証できませんでした"


def _pin(lang: str) -> str:
    msg = pin_email(to="a@example.jp", booker_name="鈴木一郎", facility_name="中央体育館",
                    facility_address="", start=START, end=END, instructions="", contact="",
                    pins=[PinLine("正面", "0123456789", START, END, ("5550001",))],
                    booking_id=7, now=START, lang=lang)
    return f"{msg['Subject']}\n{msg.get_content()}"


def test_the_pin_and_cancel_emails_in_japanese_and_english() -> None:
    ja, en = _pin("ja"), _pin("en")
    assert "【暗証番号】中央体育館 ご利用の暗証番号（予約番号 7）" in ja
    assert "■ 暗証番号（正面）: 0123456789" in ja and "鈴木一郎 様" in ja
    assert "2026年12月05日(土) 10:00 〜 2026年12月05日(土) 12:00（日本時間）" in ja
    assert "※ 最初にこのコードを入力してください: 5550001" in ja and "施設管理担当" in ja
    assert "[PIN] PIN for 中央体育館 (booking 7)" in en and "Dear 鈴木一郎," in en
    assert "■ PIN (正面): 0123456789" in en
    assert "2026-12-05 (Sat) 10:00 to 2026-12-05 (Sat) 12:00 (Japan time)" in en
    assert not any("\u3040" <= c <= "\u30ff" for c in en.replace("中央体育館", "")
                   .replace("鈴木一郎", "").replace("正面", ""))  # no kana left in English
    cancel = cancel_email(to="a@example.jp", booker_name="鈴木一郎", facility_name="中央体育館",
                          start=START, end=END, booking_id=7, contact="", now=START)
    assert "【取消】中央体育館 ご予約の取消（予約番号 7）" in cancel["Subject"]


@pytest.fixture
def edited_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A copy of the catalogs whose ja entries for 'Wrong PIN' and 'Dear {name},' differ."""
    shutil.copytree(LOCALE_DIR, tmp_path / "locale")
    po = _catalog("ja", "po")
    po["Wrong PIN"].string = "番号ちがい"
    po["Dear {name},"].string = "{name} さまへ"
    with open(tmp_path / "locale" / "ja" / "LC_MESSAGES" / f"{DOMAIN}.mo", "wb") as f:
        write_mo(f, po)
    monkeypatch.setattr(mynagate_i18n, "LOCALE_DIR", tmp_path / "locale")
    translations.cache_clear()
    yield
    translations.cache_clear()


def test_an_edited_catalog_changes_the_display_and_the_mail(edited_catalog) -> None:  # type: ignore[no-untyped-def]
    assert reason_text(Reason.PIN_WRONG, translations("ja").gettext) == "番号ちがい"
    assert "鈴木一郎 さまへ" in _pin("ja")
