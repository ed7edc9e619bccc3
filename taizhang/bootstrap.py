"""The one place that wires things together: settings → keys → store → Ledger.

Nothing is built at import time. ``open_ledger`` refuses to return a ledger
whose keys cannot read the stored events, so a wrong key stops the service at
start rather than at the first read.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import orjson
import psycopg

from crypto.envelope import EnvelopeSealer
from crypto.keyfile import create_key_file, load_master_keyring, load_store_keyring
from crypto.keyring import Keyring
from crypto.master_keys import master_keyring_from_env
from crypto.store_cipher import KEYRING_SETTING
from crypto.subject_keys import SubjectKeyTable
from domain.calendar import WorkingCalendar, YearSchedule
from domain.errors import ConfigurationError, InvalidInputError
from domain.ledger import Context, Ledger, LedgerServices
from domain.sla import SlaPolicy
from projections.database import ViewDatabase
from taizhang.integrity import enforce_append_only, ensure_signing_key
from taizhang.settings import Settings, postgres_parts

BOOTSTRAP_ACTOR = "system:init"


def store_keyring(settings: Settings) -> Keyring:
    """The store keyring from the environment's key, or else from the key file."""
    if settings.store_key:
        return Keyring.single(settings.store_key, "TAIZHANG_STORE_KEY")
    return load_store_keyring(settings.key_file)


def master_key_setting(settings: Settings) -> str | None:
    """The base64 master key from the environment (``TAIZHANG_MASTER_KEY``), if given there."""
    return settings.master_key


def master_keyring(settings: Settings) -> Keyring:
    """The master keys that wrap the subjects' data keys: environment, else the key file."""
    from_env = master_key_setting(settings)
    if from_env:
        return master_keyring_from_env(from_env)
    return load_master_keyring(settings.key_file)


def storage_env(settings: Settings) -> dict[str, str]:
    """eventsourcing's settings for the chosen store (POSTGRES_* or SQLITE_*)."""
    env = {
        "TRANSCODER_TOPIC": "taizhang.transcoder:OrjsonTranscoder",
        "CIPHER_TOPIC": "crypto.store_cipher:KeyringCipher",
        "MAPPER_TOPIC": "crypto.row_mapper:RowBoundMapper",
        "CREATE_TABLE": "true",
        # Commands re-read their aggregate; the cache keeps it and fast-forwards it with
        # only the newer events (a day's number sequence would otherwise be replayed whole).
        "AGGREGATE_CACHE_MAXSIZE": "10000",
    }
    if settings.database_url:
        env.update(postgres_parts(settings.database_url))
        env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
        env["APPLICATION_RECORDER_TOPIC"] = "taizhang.recorders:AppendOnlyPostgresRecorder"
        env.setdefault("POSTGRES_POOL_SIZE", "5")
        env.setdefault("POSTGRES_CONNECT_TIMEOUT", "5")
        # Once the log exists, never run the library's DDL again: the service's role may
        # lack the privileges it needs (CREATE OR REPLACE FUNCTION wants the owner).
        env["CREATE_TABLE"] = "false" if postgres_log_exists(settings) else "true"
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env["APPLICATION_RECORDER_TOPIC"] = "taizhang.recorders:LeafRecordingSQLiteRecorder"
        env["SQLITE_DBNAME"] = str(settings.sqlite_path)
        env["SQLITE_LOCK_TIMEOUT"] = "10"
    return env


def postgres_log_exists(settings: Settings) -> bool:
    """Does the PostgreSQL schema already hold the event table?"""
    parts = postgres_parts(settings.database_url or "")
    table = f"{parts.get('POSTGRES_SCHEMA') or 'public'}.taizhang_events"
    try:
        with psycopg.connect(
            dbname=parts["POSTGRES_DBNAME"], host=parts["POSTGRES_HOST"],
            port=parts["POSTGRES_PORT"], user=parts["POSTGRES_USER"],
            password=parts["POSTGRES_PASSWORD"] or None, connect_timeout=5,
        ) as conn:
            row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
    except psycopg.Error as exc:
        raise ConfigurationError(
            f"cannot reach PostgreSQL at {settings.describe_database()}: {exc}"
        ) from None
    return bool(row and row[0])


CALENDAR_FILES_ACTOR = "system:calendar-files"


def read_calendar_files(directory: Path) -> list[tuple[Path, YearSchedule]]:
    """Every ``*.json`` year schedule in ``directory``, checked; a bad file stops here."""
    found: list[tuple[Path, YearSchedule]] = []
    years: dict[int, Path] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            schedule = YearSchedule.from_mapping(orjson.loads(path.read_bytes()))
        except (orjson.JSONDecodeError, InvalidInputError) as exc:
            raise ConfigurationError(f"calendar override {path}: {exc}") from None
        if schedule.year in years:
            raise ConfigurationError(
                f"calendar overrides {years[schedule.year]} and {path} are both for "
                f"{schedule.year}; keep one"
            )
        years[schedule.year] = path
        found.append((path, schedule))
    return found


def record_calendar_files(ledger: Ledger, directory: Path) -> list[str]:
    """Record each schedule file not recorded before as an event; return what was recorded.

    A file is the way to hand a new year's notice to a service that is not yet
    running; once recorded, the log is the only source (deleting the file
    changes nothing, and a file whose exact schedule was recorded once, even if
    superseded since through the API, is not recorded again).
    """
    recorded: list[str] = []
    for path, schedule in read_calendar_files(directory):
        book = ledger.calendar_book()
        if book is not None and book.was_loaded(schedule):
            continue
        receipt = ledger.load_calendar_schedule(
            schedule, Context(CALENDAR_FILES_ACTOR), reason=f"calendar file {path.name}"
        )
        if receipt["changed"]:
            recorded.append(f"{schedule.year} from {path.name}")
    return recorded


def open_ledger(
    settings: Settings,
    *,
    clock: Callable[[], datetime] | None = None,
    policy: SlaPolicy | None = None,
    keyring: Keyring | None = None,
    master: Keyring | None = None,
) -> Ledger:
    """A Ledger on the configured store, after checking that the keys read the log.

    The store keys must decrypt the log and the master key must unwrap the
    stored data keys; either failing stops here, at start, with a clear message.
    """
    keyring = keyring or store_keyring(settings)
    master = master or master_keyring(settings)
    env = storage_env(settings)
    env[KEYRING_SETTING] = keyring.to_json()
    read_calendar_files(settings.calendar_dir)  # a bad file stops the start, here
    services = LedgerServices(calendar=WorkingCalendar())
    if policy is not None:
        services.policy = policy
    if clock is not None:
        services.clock = clock
    try:
        ledger = Ledger(env, services)
    except Exception as exc:  # the library raises many kinds; one clear message here
        raise ConfigurationError(
            f"cannot open the {settings.store} store at {settings.describe_database()}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    check_keys_read_log(ledger)
    try:
        enforce_append_only(ledger)
    except ConfigurationError:
        ledger.close()
        raise
    install_sealer(ledger, master)
    return ledger


def install_sealer(ledger: Ledger, master: Keyring) -> EnvelopeSealer:
    """Seal personal fields with per-subject data keys, after checking the master key."""
    sealer = EnvelopeSealer(master, SubjectKeyTable(ViewDatabase(ledger)))
    try:
        sealer.keys.create()
        sealer.check_master()
    except ConfigurationError:
        ledger.close()
        raise
    ledger.services.sealer = sealer
    return sealer


def check_keys_read_log(ledger: Ledger) -> None:
    """Decrypt the first and the last stored event; a wrong key fails here, at start."""
    last = ledger.log_length()
    if last == 0:
        return
    for position in sorted({1, last}):
        found = ledger.recorder.select_notifications(start=position, limit=1)
        if not found:
            continue
        try:
            ledger.mapper.to_domain_event(found[0])
        except Exception as exc:
            ledger.close()
            raise ConfigurationError(
                f"the store keys cannot read event #{found[0].id} of the log: {exc}."
                " Is this the key file that belongs to this database?"
            ) from None


def initialise(settings: Settings, *, algorithm: str | None = None) -> dict[str, str]:
    """Create keys and the store, and a bootstrap project lead; return the token once."""
    master_in_file = master_key_setting(settings) is None
    if settings.store_key is None or master_in_file:
        create_key_file(
            settings.key_file, algorithm, store=settings.store_key is None, master=master_in_file
        )
    ensure_signing_key(settings)
    ledger = open_ledger(settings)
    try:
        if ledger.log_length() > 0:
            raise ConfigurationError(
                f"the store at {settings.describe_database()} already holds events;"
                " init creates a new ledger only"
            )
        receipt = ledger.add_user(
            name="bootstrap project lead", role="project_lead", ctx=Context(BOOTSTRAP_ACTOR)
        )
    finally:
        ledger.close()
    return {
        "data_dir": str(settings.data_dir.resolve()),
        "database": settings.describe_database(),
        "token": receipt["token"],
        "user_id": receipt["id"],
    }


def is_initialised(settings: Settings) -> bool:
    return settings.store_key is not None or settings.key_file.exists()
