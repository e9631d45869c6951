"""HTTP routes of the guests domain: registration, sign-in, the guest's own profile, staff views."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from banrimkwae.perf.problems import problem_responses
from banrimkwae.perf.responses.keyset import Ordering, asc
from banrimkwae.resort.deps import AppSettings, GuestId, Session, Staff
from banrimkwae.resort.guests.models import Guest
from banrimkwae.resort.guests.schemas import (
    EMAIL_PATTERN,
    GUEST_FIELDS,
    GuestIn,
    GuestOut,
    GuestPatch,
    TokenOut,
    TokenRequest,
)
from banrimkwae.resort.guests.service import GuestService
from banrimkwae.resort.ids import PathId
from banrimkwae.resort.pagination import PageRequest, list_spec

router = APIRouter(prefix="/api/v1", tags=["guests"])

OWN = problem_responses(401, 403, 422)
STAFF = problem_responses(401, 403, 404, 422)

GUESTS = list_spec(Ordering("guests", asc("id", Guest.id)), GUEST_FIELDS)


@router.post(
    "/guests", status_code=201, response_model=GuestOut, responses=problem_responses(409, 422)
)
async def register_guest(body: GuestIn, session: Session) -> GuestOut:
    return GuestOut.model_validate(await GuestService(session).register(body))


@router.post("/auth/token", response_model=TokenOut, responses=problem_responses(401, 422))
async def issue_guest_token(
    body: TokenRequest, session: Session, settings: AppSettings
) -> TokenOut:
    token = await GuestService(session).sign_in(
        body,
        secret=settings.resolved_token_secret(),
        ttl_seconds=settings.token_ttl_seconds,
    )
    return TokenOut(access_token=token, expires_in=settings.token_ttl_seconds)


@router.get("/guests/me", response_model=GuestOut, responses=OWN)
async def get_me(guest_id: GuestId, session: Session) -> GuestOut:
    return GuestOut.model_validate(await GuestService(session).me(guest_id))


@router.patch("/guests/me", response_model=GuestOut, responses=OWN)
async def update_me(guest_id: GuestId, body: GuestPatch, session: Session) -> GuestOut:
    return GuestOut.model_validate(await GuestService(session).update_me(guest_id, body))


@router.get(
    "/guests",
    response_model=GUESTS.response_model(),
    responses=problem_responses(400, 401, 403, 422),
)
async def list_guests(
    session: Session,
    page: Annotated[PageRequest, Depends(GUESTS.parameters)],
    _staff: Staff,
    email: Annotated[str | None, Query(max_length=254, pattern=EMAIL_PATTERN)] = None,
) -> Response:
    page.bind(email=email)
    return page.respond(await GuestService(session).list(page, email=email))


@router.get("/guests/{guest_id}", response_model=GuestOut, responses=STAFF)
async def get_guest(guest_id: PathId, session: Session, _staff: Staff) -> GuestOut:
    return GuestOut.model_validate(await GuestService(session).get(guest_id))
