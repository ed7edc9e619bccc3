"""Dependencies shared by the routes, as ``Annotated`` aliases.

``LedgerDep`` is the application; ``CurrentUser`` the authenticated staff
member; ``allow(action)`` declares an endpoint's action of the authorisation
table (``domain/access.py``) and enforces it, the only role check the API makes;
``CommandContext`` what a command needs besides its body: who sends it,
its ``Idempotency-Key`` (with a fingerprint of the request) and the version the
client expects (``If-Match``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import MalformedJsonError, ServiceUnavailableError
from domain import access
from domain.errors import AuthenticationError, InvalidInputError
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


# -- authorisation: every endpoint declares one action of domain/access.py ---------------
class Authorised:
    """An endpoint's action in the authorisation table; 403 unless the caller's role holds it.

    ``gated`` endpoints (reads of personal data, the access history) only declare
    the action here: the Ledger's read gate checks the same table itself, so
    that a refusal is recorded in the log before it is answered.
    """

    def __init__(self, action: str, *, gated: bool = False) -> None:
        access.action(action)  # an unknown action fails at import time, not at request time
        self.action = action
        self.gated = gated

    def __call__(self, user: CurrentUser) -> User:
        if not self.gated:
            access.authorise(user, self.action)
        return user

    def __repr__(self) -> str:
        return f"Authorised({self.action!r}{', gated=True' if self.gated else ''})"


class Public:
    """Declares an endpoint that needs no token at all (``GET /health``)."""

    action = None

    def __call__(self) -> None:
        return None

    def __repr__(self) -> str:
        return "Public()"


def allow(action_name: str, *, gated: bool = False) -> Any:
    """``Depends(Authorised(action_name))``, for ``dependencies=[...]`` or an ``Annotated`` user."""
    return Depends(Authorised(action_name, gated=gated))


PUBLIC: Any = Depends(Public())


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def declared(route: APIRoute) -> list[Authorised | Public]:
    """The declarations an endpoint carries (exactly one, for a well-formed endpoint)."""
    return [c for c in _calls(route.dependant) if isinstance(c, Authorised | Public)]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    declarations: tuple[Authorised | Public, ...]  # empty for routes that are not APIRoutes
    is_api: bool


def endpoints(app: FastAPI) -> list[Endpoint]:
    """Every method and path the app serves, with what each declares."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        is_api = isinstance(route, APIRoute)
        marks = tuple(declared(route)) if isinstance(route, APIRoute) else ()
        for method in sorted(context.methods or ()):
            found.append(Endpoint(method, str(context.path), marks, is_api))
    return found


# -- who sent the request: its id and the client's address, for access records ----------
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,100}$")


@dataclass(frozen=True)
class RequestMeta:
    request_id: str
    client: str | None


def get_request_meta(
    request: Request,
    response: Response,
    request_id: Annotated[
        str | None,
        Header(
            alias="X-Request-Id",
            description="Your id for this request (1-100 of A-Z a-z 0-9 . _ : -); it is"
            " stored in the access record. One is made up when absent; the answer echoes it.",
        ),
    ] = None,
) -> RequestMeta:
    """The request's id (given or made up, echoed as ``X-Request-Id``) and the client address."""
    if request_id is not None and not REQUEST_ID.match(request_id):
        raise InvalidInputError(
            "X-Request-Id", "X-Request-Id must be 1-100 of A-Z a-z 0-9 . _ : -"
        )
    rid = request_id or uuid.uuid4().hex
    response.headers["X-Request-Id"] = rid
    return RequestMeta(rid, request.client.host if request.client else None)


RequestMetaDep = Annotated[RequestMeta, Depends(get_request_meta)]


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
