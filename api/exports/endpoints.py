"""HR export API: profiles, runs, and the download (/admin/exports…)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.db import SessionDep
from api.text import FreeText, GuardJson
from api.users.auth import AdminDep

from . import repository, service

router = APIRouter(prefix="/admin/exports", tags=["exports"])


class ProfileCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: FreeText[64] = Field(min_length=1, pattern=r"^[A-Za-z0-9_\-]+$")
    dataset: str = Field(pattern="^(punches|daily|monthly)$")
    spec: Annotated[dict[str, Any], GuardJson]


@router.get("/profiles")
def list_profiles(session: SessionDep, actor: AdminDep) -> list[dict[str, Any]]:
    """Built-in and town profiles, every version."""
    return service.list_profiles(session)


@router.post("/profiles", status_code=201)
def create_profile(data: ProfileCreate, session: SessionDep, actor: AdminDep) -> dict[str, Any]:
    """A new version of a named profile mapping the dataset's fields to a vendor's columns."""
    row = service.create_profile(session, name=data.name, dataset=data.dataset, spec=data.spec,
                                 actor=actor)
    return {"name": row.name, "version": row.version, "dataset": row.dataset}


class SubstituteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    staff_id: int
    original: FreeText[16] = Field(min_length=1)
    substitute: FreeText[16] = Field(min_length=1)


@router.post("/substitutes", status_code=201)
def create_substitute(data: SubstituteCreate, session: SessionDep,
                      actor: AdminDep) -> dict[str, Any]:
    """Register a staff member's 代替文字 for CP932 exports (e.g. 𠮷 → 吉)."""
    row = service.create_substitute(session, actor=actor, **data.model_dump())
    return {"id": row.id, "staff_id": row.staff_id, "original": row.original,
            "substitute": row.substitute}


@router.get("/runs")
def list_runs(session: SessionDep, actor: AdminDep) -> list[dict[str, Any]]:
    """Every export run: dataset, period, profile version, provisional or final, checksum."""
    rows = repository.runs(session)
    return [{"id": r.id, "dataset": r.dataset, "period_start": r.period_start,
             "period_end": r.period_end, "profile": f"{r.profile}v{r.profile_version}",
             "format": r.file_format, "provisional": r.provisional, "rows": r.row_count,
             "amendments": r.amendment_count, "sha256": r.sha256, "actor": r.actor,
             "created_at": r.created_at} for r in rows]


@router.get("/{dataset}")
def download(dataset: str, session: SessionDep, actor: AdminDep, month: str,
             format: Annotated[str, Query(pattern="^(cp932|utf8bom|xlsx)$")] = "cp932",
             profile: str = "standard", profile_version: int | None = None,
             allow_provisional: bool = False) -> Response:
    """Download 打刻 (punches), 日次勤務実績 (daily) or 月次時間外 (monthly) for a month.

    Refused (409) while a reader agent has not delivered up to the month's end, unless
    allow_provisional; a final export freezes the month."""
    out = service.export_dataset(session, dataset=dataset, month=month, file_format=format,
                                 profile=profile, profile_version=profile_version,
                                 allow_provisional=allow_provisional, actor=actor)
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(out.filename)}",
               # LOSSY look-alikes written (CP932), e.g. "U+301C=2", so none is silent.
               "X-Export-Substitutions": ",".join(f"{k}={v}"
                                                  for k, v in out.substitutions.items()),
               "X-Export-Provisional": "true" if out.provisional else "false",
               "X-Export-Run": str(out.run_id), "X-Export-Rows": str(out.rows),
               "X-Export-Amendments": str(out.amendments)}
    return Response(out.content, media_type=out.media_type, headers=headers)
