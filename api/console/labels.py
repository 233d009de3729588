"""English msgids for the codes the console shows (translated through the catalogs).

``N_`` only marks a string for ``pybabel extract -k N_``; the page translates it when shown."""

from __future__ import annotations

from api.attendance.rules import DayType, DivergenceReason, LeaveKind, LeaveUnit
from api.models import DeviceStatus, MailStatus
from gate.door import Assurance, DoorMode
from gate.policy import CredentialStatus
from gate.protocol import ProtocolStanding
from mynagate_i18n import Language


def N_(message: str) -> str:
    return message


DAY_TYPES = {DayType.WORKDAY: N_("Workday"), DayType.WEEKLY_OFF: N_("Weekly day off"),
             DayType.HOLIDAY: N_("Holiday"), DayType.COMPENSATORY: N_("Compensatory day off"),
             DayType.HOLIDAY_REPLACED: N_("Holiday (compensatory day set)")}
EVENT_KINDS = {"tap": N_("Card tap"), "door_state": N_("Door state"),
               "clock_punch": N_("Clock punch"), "alarm": N_("Alarm"),
               "card_error": N_("Card error")}
ALARMS = {"credential_auth_failed": N_("Card authentication failed"),
          "clock_skew": N_("Clock skew"), "reader_failing": N_("Card reader failing"),
          "device_offline": N_("Device offline"),
          "device_unconfirmed": N_("Reader enrolled, awaiting confirmation"), "mail_failed": N_("Email not delivered"),
          "door_not_bound": N_("Door not bound to the device"),
          "held_open": N_("Door held open"), "forced_open": N_("Door forced open"),
          "low_battery": N_("Low battery"), "outbox_backlog": N_("Events waiting on a reader"),
          "agent_too_old": N_("Reader agent too old (upgrade it)"),
          "lock_left_open": N_("Lock left open"),
          "lock_opened_outside_booking": N_("Lock opened outside a booking"),
          "lock_repeated_wrong_codes": N_("Repeated wrong codes at a lock"),
          "lock_no_show": N_("Booking not used (lock never opened)"),
          "lock_log_chain_broken": N_("Lock log chain broken"),
          "lock_slots_full": N_("Lock code slots full")}
DOOR_STATES = {"open": N_("Open"), "closed": N_("Closed"), "unknown": N_("Unknown")}
FLAGS = {"late": N_("Late"), "early": N_("Left early"), "missing_in": N_("No clock-in"),
         "missing_out": N_("No clock-out"), "in_progress": N_("At work"),
         "no_clock": N_("No punch (seen at a door)"), "absent": N_("No record"),
         "corrected": N_("Corrected"), "long_span": N_("Over 16 h on the premises"),
         "leave": N_("Leave")}
DEVICE_STATUSES = {DeviceStatus.ACTIVE: N_("In service"),
                   DeviceStatus.PENDING: N_("Awaiting enrollment"),
                   DeviceStatus.REVOKED: N_("Access revoked")}
PROTOCOL_STANDINGS = {
    ProtocolStanding.CURRENT: N_("Up to date"),
    ProtocolStanding.DEPRECATED: N_("Old agent: still served, but refused after the next service "
                                    "upgrade. Upgrade the agent."),
    ProtocolStanding.TOO_OLD: N_("Agent too old: the service refuses it. Upgrade the agent "
                                 "(docs/upgrade.md)."),
    ProtocolStanding.TOO_NEW: N_("Agent newer than the service: upgrade the service first."),
}
CREDENTIAL_KINDS = {"staff_ap": N_("Staff card (free area)"),
                    "jpki_auth": N_("Card + PIN (JPKI)")}
CREDENTIAL_STATUSES = {CredentialStatus.ACTIVE: N_("In use"),
                       CredentialStatus.SUSPENDED: N_("Suspended"),
                       CredentialStatus.LOST: N_("Lost"), CredentialStatus.REVOKED: N_("Revoked")}
CREDENTIAL_ACTIONS = {"lost": N_("Report lost"), "suspend": N_("Suspend"),
                      "revoke": N_("Revoke for good"), "reactivate": N_("Reactivate"),
                      "enrolled": N_("Enroll a card")}
ENROLLMENT_STATUSES = {"awaiting_response": N_("Waiting for the card at the enrollment reader"),
                       "pending_confirmation": N_("Card read: waiting for confirmation"),
                       "confirmed": N_("Enrolled")}
OVERTIME_STATUSES = {"pending": N_("Awaiting decision"), "approved": N_("Approved"),
                     "rejected": N_("Rejected")}
OVERTIME_DECISIONS = {"approve": N_("Approve"), "reject": N_("Reject")}
PAYMENT_STATUSES = {"pending": N_("Unpaid"), "paid": N_("Paid"), "cancelled": N_("Cancelled")}
# Each language by its own name, untranslated: a reader finds their own language by it.
LANGUAGE_NAMES = {Language.JA: "日本語", Language.EN: "English"}
MAIL_STATUSES = {MailStatus.QUEUED: N_("Waiting to be sent"), MailStatus.SENDING: N_("Sending"),
                 MailStatus.SENT: N_("Sent"), MailStatus.FAILED: N_("Not delivered"),
                 MailStatus.CANCELLED: N_("Not sent (nothing left to tell)")}
DIVERGENCE_REASONS = {DivergenceReason.POST_ORDER: N_("Work (order after the fact)"),
                      DivergenceReason.SELF_STUDY: N_("Self-study"),
                      DivergenceReason.PRIVATE: N_("Private matters"),
                      DivergenceReason.FORGOT_PUNCH: N_("Forgot to punch"),
                      DivergenceReason.BREAK: N_("Break"), DivergenceReason.OTHER: N_("Other")}
# A 乖離 day as its person sees it (/console/me); DIVERGENCE_STATES is the supervisor's view.
MY_DIVERGENCE_STATES = {"open": N_("Reason needed"), "submitted": N_("Awaiting confirmation"),
                        "returned": N_("Returned: give the reason again"),
                        "confirmed": N_("Confirmed")}
LEAVE_KINDS = {LeaveKind.ANNUAL: N_("Annual leave"), LeaveKind.SPECIAL: N_("Special leave"),
               LeaveKind.SICK: N_("Sick leave")}
LEAVE_UNITS = {LeaveUnit.DAY: N_("Whole day"), LeaveUnit.AM: N_("Morning"),
               LeaveUnit.PM: N_("Afternoon"), LeaveUnit.HOURS: N_("Hours")}
PUNCHES = {"in": N_("Clock in"), "out": N_("Clock out")}
DOOR_MODES = {DoorMode.ACCESS: N_("Door (opens)"), DoorMode.CLOCK: N_("Clock point (punch only)"),
              DoorMode.BOTH: N_("Door and clock point")}
ASSURANCES = {Assurance.CARD: N_("Card"), Assurance.CARD_PIN: N_("Card + PIN (JPKI)")}
WEEKDAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))

DAY_STATUSES = {"came": N_("Came in"), "late": N_("Late"), "leave": N_("On leave"),
                "absent": N_("No record"), "not_in": N_("Not in")}
DIVERGENCE_STATES = {"open": N_("Waiting for the reason"), "submitted": N_("Reason given"),
                     "returned": N_("Returned to the person"), "confirmed": N_("Confirmed")}
DIVERGENCE_DECISIONS = {"confirm": N_("Confirm"), "return": N_("Return")}
CORRECTION_DECISIONS = {"approve": N_("Approve"), "reject": N_("Reject"),
                        "filed": N_("Filed")}
EXPORT_DATASETS = {"punches": N_("Punches"), "daily": N_("Daily attendance"),
                   "monthly": N_("Monthly overtime")}
EXPORT_FORMATS = {"cp932": N_("CSV (Shift_JIS, CP932)"), "utf8bom": N_("CSV (UTF-8)"),
                  "xlsx": N_("Excel (xlsx)")}


def label(table: dict, code: object) -> str:
    """The msgid for ``code`` in ``table``, or the code itself when it is new."""
    return str(table.get(code, code))
