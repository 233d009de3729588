"""Reader display texts for every decision reason, in Japanese (default) and English."""

from __future__ import annotations

from .policy import Reason

__all__ = ["LANGUAGES", "reason_text"]

LANGUAGES = ("ja", "en")

_TEXTS: dict[Reason, tuple[str, str]] = {
    Reason.GRANTED: ("どうぞお入りください", "Access granted"),
    Reason.UNKNOWN_CREDENTIAL: ("登録されていないカードです", "This card is not registered"),
    Reason.CREDENTIAL_REVOKED: ("このカードは失効しています", "This card has been revoked"),
    Reason.CREDENTIAL_SUSPENDED: ("このカードは一時停止中です", "This card is suspended"),
    Reason.CREDENTIAL_LOST: ("紛失届が出ているカードです", "This card was reported lost"),
    Reason.CREDENTIAL_EXPIRED: (
        "カードまたは電子証明書の有効期限が切れています。更新の手続きをしてください",
        "This card or its certificate has expired. Please renew it",
    ),
    Reason.STAFF_INACTIVE: ("在職期間外のため利用できません", "Staff record is not active"),
    Reason.OUTSIDE_SCHEDULE: ("利用できる時間帯ではありません", "Outside the permitted hours"),
    Reason.CLOSED_DAY: ("閉庁日のため利用できません", "Closed day: no access"),
    Reason.NO_PERMISSION: ("この扉の権限がありません", "No permission for this door"),
    Reason.LOCKDOWN: ("ロックダウン中です", "Lockdown in effect"),
    Reason.PIN_REQUIRED: ("暗証番号を入力してください", "Please enter your PIN"),
    Reason.PIN_WRONG: ("暗証番号が違います", "Wrong PIN"),
    Reason.PIN_TRIES_LOW: (
        "暗証番号の残り回数が1回のため照合しません。市区町村の窓口で確認してください",
        "Only one PIN try left: not attempted. Please check at your municipal office",
    ),
    Reason.PIN_BLOCKED: (
        "暗証番号がロックされています。市区町村の窓口で暗証番号の再設定をしてください",
        "The PIN is blocked. Please have it reset at your municipal office",
    ),
    Reason.KEYPAD_ERROR: (
        "暗証番号の入力装置が使用できません。管理者に連絡してください",
        "The PIN keypad is out of order. Please contact the administrator",
    ),
    Reason.CARD_AUTH_FAILED: ("カードを認証できませんでした", "Card authentication failed"),
    Reason.CARD_ERROR: (
        "カードを読み取れませんでした。もう一度かざしてください",
        "Could not read the card. Please tap again",
    ),
    Reason.SNAPSHOT_STALE: (
        "サーバと長時間通信できないため利用できません",
        "Offline too long: access data is out of date",
    ),
    Reason.NO_SNAPSHOT: (
        "認証データがないため利用できません",
        "No verified access data on this reader",
    ),
}


def reason_text(reason: Reason, lang: str = "ja") -> str:
    """The display text for a reason; unknown languages fall back to Japanese."""
    ja, en = _TEXTS[reason]
    return en if lang == "en" else ja
