"""Reader display texts for every decision reason: English msgids, translated through the
gettext catalogs of ``mynagate_i18n`` (Japanese by default, English available).

gate stays pure: it only names the messages (marked with ``N_`` for ``pybabel extract``) and
applies the ``gettext`` function its caller loaded from the catalog."""

from __future__ import annotations

from collections.abc import Callable

from .policy import Reason

__all__ = ["REASON_MESSAGES", "Translate", "N_", "reason_text"]

Translate = Callable[[str], str]  # a catalog's gettext: msgid -> text in its language


def N_(message: str) -> str:
    """Marks a msgid for extraction; translated where it is shown."""
    return message


REASON_MESSAGES: dict[Reason, str] = {
    Reason.GRANTED: N_("Access granted"),
    Reason.UNKNOWN_CREDENTIAL: N_("This card is not registered"),
    Reason.CREDENTIAL_REVOKED: N_("This card has been revoked"),
    Reason.CREDENTIAL_SUSPENDED: N_("This card is suspended"),
    Reason.CREDENTIAL_LOST: N_("This card was reported lost"),
    Reason.CREDENTIAL_EXPIRED: N_("This card or its certificate has expired. Please renew it"),
    Reason.STAFF_INACTIVE: N_("Staff record is not active"),
    Reason.OUTSIDE_SCHEDULE: N_("Outside the permitted hours"),
    Reason.CLOSED_DAY: N_("Closed day: no access"),
    Reason.NO_PERMISSION: N_("No permission for this door"),
    Reason.LOCKDOWN: N_("Lockdown in effect"),
    Reason.PIN_REQUIRED: N_("Please enter your PIN"),
    Reason.PIN_WRONG: N_("Wrong PIN"),
    Reason.PIN_TRIES_LOW: N_("Only one PIN try left: not attempted. Please check at your "
                             "municipal office"),
    Reason.PIN_BLOCKED: N_("The PIN is blocked. Please have it reset at your municipal office"),
    Reason.KEYPAD_ERROR: N_("The PIN keypad is out of order. Please contact the administrator"),
    Reason.CARD_AUTH_FAILED: N_("Card authentication failed"),
    Reason.CARD_ERROR: N_("Could not read the card. Please tap again"),
    Reason.SNAPSHOT_STALE: N_("Offline too long: access data is out of date"),
    Reason.NO_SNAPSHOT: N_("No verified access data on this reader"),
}


def reason_text(reason: Reason, gettext: Translate) -> str:
    """The display text for a reason, through the caller's catalog."""
    return gettext(REASON_MESSAGES[reason])
