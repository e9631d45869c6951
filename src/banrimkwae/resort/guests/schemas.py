"""Request and response bodies of the guests domain and of guest sign-in."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from banrimkwae.resort.guests.models import Guest
from banrimkwae.resort.pagination import fieldset
from banrimkwae.resort.timestamps import UtcDateTime

# A deliberately loose shape check: the address is proven by use, not by a regular expression.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


# Stored lower-cased, so that one address cannot register twice in different cases.
Email = Annotated[
    str, Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN), AfterValidator(str.lower)
]
Country = Annotated[str, Field(min_length=2, max_length=2, pattern=r"^[A-Z]{2}$")]
Name = Annotated[str, Field(min_length=1, max_length=80)]
Phone = Annotated[str, Field(min_length=3, max_length=32, pattern=r"^\+?[0-9 ()-]+$")]


class GuestIn(BaseModel):
    email: Email
    # An upper bound keeps one request from buying a long scrypt computation.
    password: str = Field(min_length=10, max_length=128)
    first_name: Name
    last_name: Name
    country: Country
    phone: Phone | None = None


class GuestPatch(BaseModel):
    first_name: Name | None = None
    last_name: Name | None = None
    country: Country | None = None
    phone: Phone | None = None


class GuestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    first_name: str
    last_name: str
    phone: str | None
    country: str
    created_at: UtcDateTime


# What the guest list may return (`fields=`); the password hash is never a field.
GUEST_FIELDS = fieldset("guest", GuestOut, Guest)


class TokenRequest(BaseModel):
    email: Email
    password: str = Field(min_length=1, max_length=128)


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
