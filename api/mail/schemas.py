"""The admin view of the outbox. Each row carries RFC 9457 problem-detail members (``type``,
``title``, ``detail``, ``instance``) beside its own, so the console shows a failed email like
any other problem."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, computed_field

from api.models import MailKind, MailStatus

PROBLEM_TYPE = "urn:mynagate:problem:mail"
TITLES = {  # the problem title of each state
    MailStatus.QUEUED: "Mail waiting to be sent",
    MailStatus.SENDING: "Mail being sent",
    MailStatus.SENT: "Mail sent",
    MailStatus.FAILED: "Mail not delivered",
    MailStatus.CANCELLED: "Mail cancelled",
}


class MailRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: MailKind
    mail_status: MailStatus = Field(validation_alias="status")
    booking_id: int | None
    to: str = Field(validation_alias="to_addr")
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    failed_at: datetime | None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def type(self) -> str:
        return f"{PROBLEM_TYPE}:{self.mail_status.value}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def title(self) -> str:
        return TITLES[self.mail_status]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def detail(self) -> str:
        return self.last_error or TITLES[self.mail_status]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def instance(self) -> str:
        return f"/admin/mail/{self.id}"
