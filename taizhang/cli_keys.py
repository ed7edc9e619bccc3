"""``taizhang keys``: rotate and list the store keys, rotate the master key.

* ``keys rotate`` adds a store key and makes it current; events written before
  stay readable with the older keys, which stay in the key file.
* ``keys list`` shows every store key and how many stored events it encrypts
  (read from each stored state's key-id header, without decrypting anything),
  and the master keys with how many data keys each one wraps.
* ``keys rotate-master`` creates a new master key, re-wraps every subject's
  data key under it in one transaction, then drops the old master key from the
  key file. Every older copy of the key table (backups, archived WAL) is then
  useless: see docs/adr/20261129-crypto-shredding.md.

Running services load their keys at start: restart them after a rotation.
The key file is rewritten atomically with mode 0600; no key is ever printed.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import orjson
import typer

from crypto.envelope import EnvelopeSealer
from crypto.keyfile import MASTER_SECTION, STORE_SECTION, read_key_file, replace_section
from crypto.keyring import KEY_SIZES, Keyring
from crypto.master_keys import (
    new_master_keyring,
    only_current,
    parse_master_keyring,
    with_new_master,
)
from crypto.store_cipher import DecryptionError, key_id_of
from domain.errors import ConfigurationError, TaizhangError
from domain.ledger import Ledger
from taizhang.bootstrap import master_key_setting, master_keyring, open_ledger, store_keyring
from taizhang.cli_common import DataDir, fail
from taizhang.progress import Ticker, progress
from taizhang.settings import Settings

app = typer.Typer(
    name="keys",
    help="Rotate and list the store keys; rotate the master key that wraps the data keys.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

PAGE = 1000



def _sealer(ledger: Ledger) -> EnvelopeSealer:
    sealer = ledger.services.sealer
    if not isinstance(sealer, EnvelopeSealer):
        raise ConfigurationError("this ledger does not seal personal fields with data keys")
    return sealer


# -- the work, callable without the command line ------------------------------------------
def rotate_store_key(settings: Settings, algorithm: str | None = None) -> Keyring:
    """Add a fresh current store key to the key file; the older keys stay for reading."""
    if settings.store_key:
        raise ConfigurationError(
            "the store key comes from TAIZHANG_STORE_KEY: rotate it where it is kept"
            " (a rotation needs the key file, which keeps the older keys)"
        )
    if algorithm is not None and algorithm not in KEY_SIZES:
        raise ConfigurationError(
            f"unknown store cipher {algorithm!r}; choose one of {', '.join(KEY_SIZES)}"
        )
    rotated = store_keyring(settings).rotated(algorithm)
    replace_section(settings.key_file, STORE_SECTION, rotated)
    return rotated


def count_events_by_key(ledger: Ledger, ticker: Ticker | None = None) -> Counter[str]:
    """How many stored events each store key encrypts, from the key-id header of every state."""
    counts: Counter[str] = Counter()
    last = ledger.log_length()
    position = 1
    while position <= last:
        page = ledger.recorder.select_notifications(start=position, limit=PAGE, stop=last)
        if not page:
            break
        for notification in page:
            try:
                counts[key_id_of(notification.state)] += 1
            except DecryptionError:
                counts["(unreadable header)"] += 1
        if ticker is not None:
            ticker.advance(len(page))
        position = page[-1].id + 1
    return counts


def key_listing(settings: Settings, *, show_progress: bool | None = None) -> dict[str, Any]:
    """Store keys with their event counts, master keys with their data-key counts."""
    keyring = store_keyring(settings)
    ledger = open_ledger(settings)
    try:
        with progress("reading key ids", ledger.log_length(), force=show_progress) as ticker:
            counts = count_events_by_key(ledger, ticker)
        sealer = _sealer(ledger)
        wrapped = sealer.keys.count_by_master_key()
        master = sealer.master
        log_length = ledger.log_length()
    finally:
        ledger.close()
    store = [
        {
            **key.public_dict(),
            "current": key.key_id == keyring.current_id,
            "events": counts.pop(key.key_id, 0),
        }
        for key in keyring.keys
    ]
    unknown = [{"id": key_id, "events": n} for key_id, n in sorted(counts.items())]
    masters = [
        {
            **key.public_dict(),
            "current": key.key_id == master.current_id,
            "data_keys": wrapped.pop(key.key_id, 0),
        }
        for key in master.keys
    ]
    return {
        "log_length": log_length,
        "store": store,
        "unknown_store_keys": unknown,
        "master": masters,
        "unknown_master_keys": [{"id": k, "data_keys": n} for k, n in sorted(wrapped.items())],
    }


def rotate_master_key(settings: Settings) -> int:
    """New master key, every data key re-wrapped under it (one transaction), old key dropped.

    Order keeps every step recoverable: the key file first holds old and new
    keys; the re-wrap commits all or nothing; only then is the old key removed.
    A key file without a master key gets its first one (when no data key exists).
    """
    if master_key_setting(settings):
        raise ConfigurationError(
            "the master key comes from TAIZHANG_MASTER_KEY: a rotation needs the key file"
            " (unset it, put the key under `master` in the key file, then rotate)"
        )
    section = read_key_file(settings.key_file).get(MASTER_SECTION)
    if section is None:
        both = new_master_keyring()
    else:
        both = with_new_master(parse_master_keyring(section, str(settings.key_file)))
    ledger = open_ledger(settings, master=both)  # checks that the old key unwraps what is stored
    try:
        replace_section(settings.key_file, MASTER_SECTION, both)
        sealer = _sealer(ledger)
        count = sealer.rewrap_all()
        sealer.master = only_current(both)
        sealer.check_master()  # every data key now unwraps with the new key alone
    finally:
        ledger.close()
    replace_section(settings.key_file, MASTER_SECTION, only_current(both))
    return count


# -- the commands ---------------------------------------------------------------------------
@app.command("rotate")
def rotate(
    data_dir: DataDir = None,
    algorithm: Annotated[
        str | None,
        typer.Option("--algorithm", help="AES-256-GCM or SM4-GCM (default: the current one's)."),
    ] = None,
) -> None:
    """Add a new current store key; older events stay readable with the older keys."""
    settings = Settings.from_env(data_dir=data_dir)
    try:
        rotated = rotate_store_key(settings, algorithm)
    except TaizhangError as exc:
        fail(exc.message)
    key = rotated.current
    typer.echo(f"new current store key {key.key_id} ({key.algorithm}); {len(rotated.keys)} keys")
    typer.echo("restart running taizhang services so that they write with it")


@app.command("list")
def list_keys(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the listing as JSON.")] = False,
) -> None:
    """Store keys and the events each encrypts; master keys and the data keys each wraps."""
    settings = Settings.from_env(data_dir=data_dir)
    try:
        listing = key_listing(settings)
    except TaizhangError as exc:
        fail(exc.message)
    if as_json:
        typer.echo(orjson.dumps(listing).decode())
        return
    typer.echo(f"store keys ({listing['log_length']} events in the log)")
    for key in listing["store"]:
        mark = "*" if key["current"] else " "
        typer.echo(
            f" {mark} {key['id']:<24} {key['algorithm']:<12} {key['created_at']:<34}"
            f" {key['events']:>10} events"
        )
    for key in listing["unknown_store_keys"]:
        typer.echo(f" ! {key['id']:<24} {'(not in keyring)':<47} {key['events']:>10} events")
    typer.echo("master keys")
    for key in listing["master"]:
        mark = "*" if key["current"] else " "
        typer.echo(
            f" {mark} {key['id']:<24} {key['algorithm']:<12} {key['created_at']:<34}"
            f" {key['data_keys']:>10} data keys"
        )
    for key in listing["unknown_master_keys"]:
        typer.echo(f" ! {key['id']:<24} {'(not held)':<47} {key['data_keys']:>10} data keys")


@app.command("rotate-master")
def rotate_master(data_dir: DataDir = None) -> None:
    """New master key; re-wrap every data key under it; drop the old master key."""
    settings = Settings.from_env(data_dir=data_dir)
    try:
        count = rotate_master_key(settings)
    except TaizhangError as exc:
        fail(exc.message)
    current = master_keyring(settings).current
    typer.echo(f"re-wrapped {count} data keys under the new master key {current.key_id}")
    typer.echo("the old master key is gone from the key file; restart running taizhang services")
