"""Wiring for the tamper-evident log: the signing key, the sealer, the append-only check."""

from __future__ import annotations

import base64
import binascii

from crypto.keyfile import read_key_file, write_key_file
from crypto.signing import HeadSigner, HeadVerifier, signing_secret_from, signing_section
from domain.errors import ConfigurationError
from domain.ledger import Ledger
from projections.database import ViewDatabase
from replay.append_only import ensure_append_only
from replay.sealer import Sealer
from taizhang.settings import Settings


def ensure_signing_key(settings: Settings) -> None:
    """Add a tree-head signing key to the key file if it has none (``taizhang init``)."""
    if settings.signing_key or not settings.key_file.exists():
        return
    data = read_key_file(settings.key_file)
    if "signing" not in data:
        data["signing"] = signing_section()
        write_key_file(settings.key_file, data)


def head_signer(settings: Settings) -> HeadSigner:
    """The Ed25519 key that signs tree heads: environment, else the key file."""
    if settings.signing_key:
        try:
            secret = base64.b64decode(settings.signing_key, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigurationError("TAIZHANG_SIGNING_KEY is not valid base64") from None
        return HeadSigner(secret)
    data = read_key_file(settings.key_file)
    return HeadSigner(signing_secret_from(data, str(settings.key_file)))


def head_verifier(settings: Settings) -> HeadVerifier:
    return head_signer(settings).verifier()


def enforce_append_only(ledger: Ledger) -> None:
    """Install or check the append-only triggers; refuse to run without them."""
    ensure_append_only(ViewDatabase(ledger))


def open_sealer(ledger: Ledger, settings: Settings) -> Sealer:
    return Sealer(
        ledger,
        head_signer(settings),
        every_events=settings.seal_interval_events,
        every_seconds=settings.seal_interval_seconds,
    )
