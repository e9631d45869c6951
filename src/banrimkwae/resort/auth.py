"""Signed bearer tokens (HS256 JWT with an expiry) for guests and staff, and password hashing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Literal

import jwt

Role = Literal["guest", "staff"]
_ALGORITHM = "HS256"
_ISSUER = "banrimkwae"
# scrypt cost for new passwords: about 20 ms here, memory-hard.
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1


class TokenError(Exception):
    """The token is missing, malformed, forged or expired; the message says which."""


@dataclass(frozen=True, slots=True)
class Identity:
    subject: int
    role: Role


def issue_token(secret: str, subject: int, role: Role, ttl_seconds: int) -> str:
    now = int(time.time())
    claims = {
        "sub": str(subject),
        "role": role,
        "iss": _ISSUER,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def decode_token(token: str, secret: str) -> Identity:
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("the token has expired") from None
    except jwt.InvalidTokenError:
        raise TokenError("the token is invalid") from None
    role = claims.get("role")
    if role not in ("guest", "staff"):
        raise TokenError("the token is invalid")
    try:
        subject = int(claims["sub"])
    except (TypeError, ValueError):
        raise TokenError("the token is invalid") from None
    return Identity(subject=subject, role=role)


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )
    encoded_salt = base64.b64encode(salt).decode()
    encoded_digest = base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encoded_salt}${encoded_digest}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=32,
    )
    return hmac.compare_digest(candidate, base64.b64decode(digest))
