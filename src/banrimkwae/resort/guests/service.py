"""Business rules of the guests domain: registration, sign-in and profiles."""

from __future__ import annotations

from functools import cache

from sqlalchemy.ext.asyncio import AsyncSession

from banrimkwae.perf.problems import ProblemError
from banrimkwae.resort.auth import hash_password, issue_token, verify_password
from banrimkwae.resort.errors import conflict_on_integrity, not_found
from banrimkwae.resort.guests.models import Guest
from banrimkwae.resort.guests.repository import GuestRepository
from banrimkwae.resort.guests.schemas import GuestIn, GuestPatch, TokenRequest
from banrimkwae.resort.pagination import PageRequest, Slice

# One message for an unknown email and a wrong password, so sign-in does not reveal accounts.
BAD_CREDENTIALS = "the email or password is incorrect"


@cache
def _decoy_hash() -> str:
    # Checked against when the email is unknown, so both failures cost the same scrypt time.
    return hash_password("decoy password that matches nothing")


class GuestService:
    def __init__(self, session: AsyncSession) -> None:
        self.repository = GuestRepository(session)

    async def register(self, body: GuestIn) -> Guest:
        if await self.repository.get_by_email(body.email) is not None:
            raise ProblemError(409, "a guest with this email is already registered")
        guest = Guest(**body.model_dump(exclude={"password"}))
        guest.password_hash = hash_password(body.password)
        # Two registrations racing past the check above meet the unique index instead.
        async with conflict_on_integrity("a guest with this email is already registered"):
            await self.repository.add(guest)
        return guest

    async def sign_in(self, body: TokenRequest, *, secret: str, ttl_seconds: int) -> str:
        """A guest bearer token for matching credentials; 401 otherwise."""
        guest = await self.repository.get_by_email(body.email)
        stored = guest.password_hash if guest is not None else _decoy_hash()
        if not verify_password(body.password, stored) or guest is None:
            raise ProblemError(
                401, BAD_CREDENTIALS, headers={"WWW-Authenticate": 'Bearer realm="banrimkwae"'}
            )
        return issue_token(secret, guest.id, "guest", ttl_seconds)

    async def me(self, guest_id: int) -> Guest:
        """The authenticated guest; a valid token for a guest that no longer exists is 401."""
        guest = await self.repository.get(guest_id)
        if guest is None:
            raise ProblemError(
                401,
                "the token's guest does not exist",
                headers={"WWW-Authenticate": 'Bearer realm="banrimkwae"'},
            )
        return guest

    async def update_me(self, guest_id: int, patch: GuestPatch) -> Guest:
        guest = await self.me(guest_id)
        for name, value in patch.model_dump(exclude_unset=True).items():
            # Names and country are required columns; only the phone may be cleared with null.
            if value is None and name != "phone":
                continue
            setattr(guest, name, value)
        await self.repository.add(guest)
        return guest

    async def get(self, guest_id: int) -> Guest:
        guest = await self.repository.get(guest_id)
        if guest is None:
            raise not_found("guest", guest_id)
        return guest

    async def list(self, page: PageRequest, *, email: str | None) -> Slice[Guest]:
        # Emails are stored lower-cased (see schemas.Email); match the filter the same way.
        wanted = email.strip().lower() if email is not None else None
        return await self.repository.list(page, email=wanted)
