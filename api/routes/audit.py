"""Audit: signed tree heads, RFC 6962 proofs, the public key, and audit bundles."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from api.deps import allow
from api.errors import ServiceUnavailableError
from domain.errors import InvalidInputError, NotFoundError
from replay.bundle import export_bundle
from replay.sealer import Sealer

router = APIRouter(prefix="/audit", tags=["audit"])
READ = [allow("audit.read")]
CHUNK = 1 << 16


def get_sealer(request: Request) -> Sealer:
    sealer: Sealer | None = getattr(request.app.state, "sealer", None)
    if sealer is None:
        raise ServiceUnavailableError("the sealer is not running in this process")
    return sealer


SealerDep = Annotated[Sealer, Depends(get_sealer)]


def _latest(sealer: Sealer) -> Any:
    if sealer.latest is None:
        raise NotFoundError("signed tree head", "latest")
    return sealer.latest


@router.get("/tree-head", dependencies=READ)
def read_tree_head(sealer: SealerDep) -> dict[str, Any]:
    """The latest signed tree head."""
    return _latest(sealer).as_dict()


@router.get("/public-key", dependencies=READ)
def read_public_key(sealer: SealerDep) -> dict[str, str]:
    """The Ed25519 key that signs tree heads, for independent verification."""
    return sealer.signer.verifier().public_dict()


@router.get("/inclusion/{position}", dependencies=READ)
def read_inclusion_proof(
    position: int,
    sealer: SealerDep,
    tree_size: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    """RFC 6962 inclusion proof of the event at ``position`` (default: the latest head)."""
    size = tree_size if tree_size is not None else _latest(sealer).tree_size
    sealer.catch_up()
    return sealer.inclusion(position, size).as_dict()


@router.get("/consistency", dependencies=READ)
def read_consistency_proof(
    sealer: SealerDep,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> dict[str, Any]:
    """RFC 6962 consistency proof between two tree sizes."""
    if first > second:
        raise InvalidInputError("first", "first must not exceed second")
    sealer.catch_up()
    if second > sealer.tree.size:
        raise InvalidInputError("second", f"the tree has only {sealer.tree.size} leaves")
    return {
        "first": first,
        "second": second,
        "first_root": sealer.tree.root(first).hex() if first else None,
        "second_root": sealer.tree.root(second).hex(),
        "proof": [h.hex() for h in sealer.consistency(first, second)] if 0 < first < second else [],
    }


@router.get("/bundle", dependencies=READ)
def read_bundle(
    sealer: SealerDep,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=1)],
) -> StreamingResponse:
    """An audit bundle between two signed heads (JSON Lines; see docs/audit-bundle.md)."""
    spool = tempfile.SpooledTemporaryFile(max_size=32 << 20)  # noqa: SIM115 (streamed, then closed)
    export_bundle(sealer, first, second, spool)
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        try:
            while block := spool.read(CHUNK):
                yield block
        finally:
            spool.close()

    filename = f"taizhang-audit-{first}-{second}.jsonl"
    return StreamingResponse(
        chunks(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
