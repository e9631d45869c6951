"""The caller's identity for the response cache, which runs before routing.

The cache stores a guest's answers only under user-scoped policies and serves them only to
the same verified caller, so it needs the bearer token checked the way the API checks it
(`decode_token`). A verified token is remembered until it expires: the hit path then costs a
dictionary lookup, not an HMAC.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

from starlette.types import Scope

from banrimkwae.config import Settings
from banrimkwae.resort.auth import TokenError, decode_token

_MEMO_SIZE = 10_000


def bearer_identity(settings: Settings) -> Callable[[Scope], str | None]:
    """`identify(scope)`: "guest:<id>" / "staff:<id>" for a valid bearer token, else None."""
    secret: list[str] = []
    verified: dict[bytes, tuple[str, float]] = {}

    def identify(scope: Scope) -> str | None:
        authorization = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
                break
        if authorization is None:
            return None
        scheme, _, token = authorization.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return None
        now = time.time()
        known = verified.get(token)
        if known is not None:
            if known[1] > now:
                return known[0]
            del verified[token]
        if not secret:
            secret.append(settings.resolved_token_secret())
        try:
            identity = decode_token(token.decode("ascii"), secret[0])
        except (TokenError, UnicodeDecodeError):
            return None
        principal = f"{identity.role}:{identity.subject}"
        if len(verified) >= _MEMO_SIZE:
            verified.clear()
        verified[token] = (principal, _expiry(token, now))
        return principal

    return identify


def _expiry(token: bytes, now: float) -> float:
    # The signature is verified already; the payload's exp bounds how long we trust it.
    try:
        payload = token.split(b".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return now
