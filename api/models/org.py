"""Departments (所属) and staff (職員). No column ever holds the individual number."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, TimestampMixin

EMPLOYMENT_TYPES = ("regular", "fiscal_year", "temporary")  # 正規 / 会計年度任用 / 臨時


class Department(Base, TimestampMixin):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # ordinary | high_external (他律的業務の比重が高い部署): drives the overtime caps.
    overtime_class: Mapped[str] = mapped_column(String(20), default="ordinary")


class Staff(Base, TimestampMixin):
    __tablename__ = "staff"
    __table_args__ = (
        # The staff search matches a substring of 職員番号, 氏名 or カナ (ILIKE '%q%'): trigram
        # GIN on PostgreSQL (pg_trgm); on SQLite a plain index, which that search cannot use.
        Index("ix_staff_search", "staff_number", "name", "name_kana", postgresql_using="gin",
              postgresql_ops={"staff_number": "gin_trgm_ops", "name": "gin_trgm_ops",
                              "name_kana": "gin_trgm_ops"}),
        # Who is active on a day (the staff list's filter and its count, attendance periods).
        Index("ix_staff_active", "active_from", "active_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_number: Mapped[str] = mapped_column(String(20), unique=True)  # 職員番号
    name: Mapped[str] = mapped_column(String(100))  # 氏名
    name_kana: Mapped[str] = mapped_column(String(100))  # カナ
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    employment_type: Mapped[str] = mapped_column(String(20), default="regular")
    work_pattern: Mapped[str] = mapped_column(String(32), default="standard")
    email: Mapped[str | None] = mapped_column(String(200), default=None)
    active_from: Mapped[date]
    active_until: Mapped[date | None] = mapped_column(default=None)

    department: Mapped[Department] = relationship(lazy="raise")
