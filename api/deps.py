"""Dependencies shared by the routes, as ``Annotated`` aliases.

``LedgerDep`` is the application; ``CurrentUser`` the authenticated staff
member; ``CommandContext`` what a command needs besides its body: who sends it,
its ``Idempotency-Key`` (with a fingerprint of the request) and the version the
client expects (``If-Match``).
"""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import MalformedJsonError, ServiceUnavailableError
from domain.errors import AuthenticationError, InvalidInputError, PermissionDeniedError
from domain.ledger import Context, Idempotency, Ledger
from domain.people import User
from projections.catalog import ItemCatalog

MAX_IDEMPOTENCY_KEY = 200

bearer = HTTPBearer(
    auto_error=False,
    description="A staff member's bearer token (from `taizhang init` or `POST /users`).",
)


def get_ledger(request: Request) -> Ledger:
    """The application the app was built with (opened in the lifespan)."""
    ledger: Ledger | None = getattr(request.app.state, "ledger", None)
    if ledger is None:
        raise RuntimeError("the app has no ledger: run it inside its lifespan")
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


def get_catalog(request: Request) -> ItemCatalog:
    """The catalog projection, or 503 when the app runs without one."""
    catalog: ItemCatalog | None = getattr(request.app.state, "catalog", None)
    if catalog is None:
        raise ServiceUnavailableError("listing is not available: the catalog view is not running")
    return catalog


CatalogDep = Annotated[ItemCatalog, Depends(get_catalog)]


def get_current_user(
    ledger: LedgerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The active user holding the request's bearer token; 401 otherwise."""
    if credentials is None:
        raise AuthenticationError("send the header Authorization: Bearer <token>")
    return ledger.authenticate(credentials.credentials)


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_role(user: User, *roles: str) -> None:
    """403 unless ``user`` holds one of ``roles``."""
    if user.role not in roles:
        raise PermissionDeniedError(
            f"this action needs the role {' or '.join(roles)}; you are {user.role}"
        )


def canonical_body(body: bytes) -> bytes:
    """The body re-encoded with sorted keys and no whitespace; empty stays empty."""
    if not body.strip():
        return b""
    try:
        return orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:
        raise MalformedJsonError("the request body is not valid JSON") from None


def fingerprint(ledger: Ledger, method: str, path: str, body: bytes) -> str:
    """A keyed digest of the method, the path and the canonical JSON body.

    Keyed (by the sealer), because a body can hold personal data and its
    fingerprint is stored: an unkeyed hash would let a guessed identity be
    confirmed long after the subject's data was destroyed.
    """
    message = f"{method.upper()} {path}\n".encode() + canonical_body(body)
    return ledger.services.sealer.fingerprint(message)


def parse_if_match(value: str | None) -> int | None:
    """``3`` or ``"3"`` → 3; ``*`` or nothing → None (any version)."""
    if value is None or value.strip() in ("", "*"):
        return None
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1]
    if not text.isascii() or not text.isdigit():
        raise InvalidInputError(
            "If-Match", 'If-Match must be the version from the ETag, such as "3"'
        )
    return int(text)


def parse_idempotency_key(value: str | None) -> str | None:
    if value is None:
        return None
    key = value.strip()
    if not key:
        raise InvalidInputError("Idempotency-Key", "Idempotency-Key must not be blank")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise InvalidInputError(
            "Idempotency-Key", f"Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY} characters"
        )
    return key


async def get_command_context(
    request: Request,
    user: CurrentUser,
    ledger: LedgerDep,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Retry-safe key: the same key and body return the first answer.",
        ),
    ] = None,
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='The version the change is based on (the ETag, e.g. "3"); '
            "a stale one answers 409.",
        ),
    ] = None,
) -> Context:
    """Who sends the command, how a retry is recognised, and the version it expects."""
    key = parse_idempotency_key(idempotency_key)
    expected = parse_if_match(if_match)
    idempotency = None
    if key is not None:
        body = await request.body()
        idempotency = Idempotency(
            key, fingerprint(ledger, request.method, request.url.path, body)
        )
    return Context(actor=str(user.id), idempotency=idempotency, expected_version=expected)


CommandContext = Annotated[Context, Depends(get_command_context)]
