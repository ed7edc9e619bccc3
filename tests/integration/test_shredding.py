"""Crypto-shredding on SQLite and PostgreSQL: the data goes, the log and its counts stay.

A subject's personal fields are sealed with its own data key, kept wrapped by a
master key in ``subject_keys``. An approved destruction deletes that row and
purges the database's old copies. These tests hold the whole key file and
every byte the database keeps, and still find nothing of the subject.
"""

from __future__ import annotations

import base64
import dataclasses
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from crypto.envelope import (
    EnvelopeSealer,
    SealedFieldError,
    SubjectDataDestroyedError,
    open_field,
    unwrap_data_key,
)
from crypto.keyfile import MASTER_SECTION, read_key_file, write_key_file
from crypto.keyring import Keyring
from crypto.master_keys import MASTER_KEY_ENV, new_master_keyring
from crypto.row_mapper import row_identity
from crypto.store_cipher import KeyringCipher
from crypto.subject_keys import KeyRemnantError, SubjectKeyTable
from domain.errors import ConfigurationError, RuleViolationError
from domain.ledger import Ledger
from domain.subject import Subject
from projections.catalog import open_catalog
from projections.database import ViewDatabase
from replay.append_only import grant_app_role
from taizhang.bootstrap import open_ledger
from taizhang.settings import Settings
from tests.conftest import POSTGRES_URL, Store
from tests.integration.test_ledger_store import (
    ID_NUMBER,
    MOBILE,
    NAME,
    T0,
    ctx,
    make_subject,
    make_ticket,
    stored_bytes,
)

H = timedelta(hours=1)
PLAINTEXTS = [NAME, ID_NUMBER, MOBILE]


def sealer_of(ledger: Ledger) -> EnvelopeSealer:
    sealer = ledger.services.sealer
    assert isinstance(sealer, EnvelopeSealer)
    return sealer


def key_material(ledger: Ledger, subject_id: str) -> tuple[bytes, bytes]:
    """The subject's raw data key and its wrapped row bytes, read through the module's API."""
    sealer = sealer_of(ledger)
    stored = sealer.keys.get(UUID(subject_id))
    assert stored is not None
    master = sealer.master.get(stored.master_key_id)
    return unwrap_data_key(master, UUID(subject_id), stored.wrapped), stored.wrapped


def request_and_approve(ledger: Ledger, subject_id: str) -> dict[str, Any]:
    request = ledger.request_destruction(subject_id, "保存期限届满", ctx(T0 + H, "staff-1"))
    return ledger.approve_destruction(request["id"], ctx(T0 + 2 * H, "lead-2"))


def key_file_secrets(store: Store) -> list[bytes]:
    """Every secret in the key file: store keys and master keys."""
    data = read_key_file(store.settings.key_file)
    return [
        base64.b64decode(key["secret"])
        for section in ("store", MASTER_SECTION)
        for key in data[section]["keys"]
    ]


def decrypted_log(store: Store, ledger: Ledger) -> list[bytes]:
    """Every stored state, decrypted with the store keys of the key file (not the ledger's)."""
    cipher = KeyringCipher(Keyring.from_dict(read_key_file(store.settings.key_file)["store"], "t"))
    return [
        cipher.decrypt(n.state, row_identity(n.originator_id, n.originator_version, n.topic))
        for n in ledger.recorder.select_notifications(start=1, limit=100_000)
    ]


def test_shredding_destroys_the_personal_data_but_keeps_the_log_and_its_counts(
    store: Store,
) -> None:
    ledger = store.open()
    subject_id = make_subject(ledger)
    ticket_id = make_ticket(ledger, subject_id)
    catalog = open_catalog(ledger)
    tickets_before, _ = catalog.query("ticket", now=T0)
    data_key, wrapped = key_material(ledger, subject_id)
    assert wrapped in stored_bytes(store)  # the scan below does see the key table
    length_before = ledger.log_length()

    request = ledger.request_destruction(subject_id, "保存期限届满", ctx(T0 + H, "staff-1"))
    assert request["status"] == "requested"
    assert request["subject_id"] == subject_id
    answer = ledger.approve_destruction(request["id"], ctx(T0 + 2 * H, "lead-2"))

    assert answer["status"] == "destroyed"
    assert answer["destroyed_at"] == (T0 + 2 * H).isoformat()
    subject = ledger.subject(subject_id)
    assert subject.is_destroyed
    assert subject.destroyed_at == T0 + 2 * H
    assert subject.destruction_request_id == request["id"]
    assert set(ledger.masks(subject).values()) == {"***"}
    with pytest.raises(SubjectDataDestroyedError) as raised:
        ledger.services.sealer.unseal(subject.id, subject.sealed)
    assert raised.value.destroyed
    assert ledger.services.sealer.is_destroyed(subject.id)
    # The request, its approval and the destruction are recorded: three events, none rewritten.
    assert ledger.log_length() == length_before + 3
    tickets_after, _ = catalog.query("ticket", now=T0)
    assert tickets_after == tickets_before
    assert [t["id"] for t in tickets_after] == [ticket_id]
    # The service is still running: no close has checkpointed SQLite's WAL for us.
    assert_nothing_of_the_subject_is_stored(store, data_key, wrapped)
    ledger.close()

    # The service still starts, and every event still decodes with the store keys.
    reopened = store.open()
    events = [
        reopened.mapper.to_domain_event(n)
        for n in reopened.recorder.select_notifications(start=1, limit=100_000)
    ]
    assert len(events) == reopened.log_length()
    registered = next(
        e
        for e in events
        if isinstance(e, Subject.Registered) and str(e.originator_id) == subject_id
    )
    assert reopened.ticket(ticket_id).requester_id == subject_id
    # Holding the whole key file opens none of the sealed fields ...
    assert sorted(registered.sealed) == ["id_number", "mobile", "name"]
    for field, token in registered.sealed.items():
        for secret in key_file_secrets(store):
            with pytest.raises(SealedFieldError):
                open_field(secret, subject.id, field, token)
    # ... and the whole log, decrypted with every store key, shows none of the plaintext.
    for state in decrypted_log(store, reopened):
        for plaintext in PLAINTEXTS:
            assert plaintext.encode("utf-8") not in state
    reopened.close()
    assert_nothing_of_the_subject_is_stored(store, data_key, wrapped)


def assert_nothing_of_the_subject_is_stored(store: Store, data_key: bytes, wrapped: bytes) -> None:
    blob = stored_bytes(store)
    for plaintext in PLAINTEXTS:
        assert plaintext.encode("utf-8") not in blob, f"{plaintext!r} is still stored"
    assert data_key not in blob, "the raw data key is stored"
    assert wrapped not in blob, "the wrapped data key is still stored"


def test_the_shredded_key_leaves_no_copy_among_many_and_the_others_still_unseal(
    store: Store,
) -> None:
    ledger = store.open()
    sealer = sealer_of(ledger)
    neighbours = [uuid4() for _ in range(1200)]
    for other in neighbours[:600]:  # the victim's row sits mid-table, on a page that stays full
        sealer.seal(other, {"name": "某人"})
    before = make_subject(ledger)
    victim = make_subject(ledger)
    after = make_subject(ledger)
    for other in neighbours[600:]:
        sealer.seal(other, {"name": "某人"})
    data_key, wrapped = key_material(ledger, victim)

    request_and_approve(ledger, victim)

    assert_nothing_of_the_subject_is_stored(store, data_key, wrapped)
    blob = stored_bytes(store)
    for subject_id in (before, after):
        subject = ledger.subject(subject_id)
        assert sealer.unseal(subject.id, subject.sealed) == {
            "name": NAME,
            "id_number": ID_NUMBER,
            "mobile": MOBILE,
        }
        assert key_material(ledger, subject_id)[1] in blob
    assert sum(sealer.keys.count_by_master_key().values()) == len(neighbours) + 2
    ledger.close()


def test_approving_again_repeats_the_key_destruction_and_answers_the_same(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = store.open()
    sealer = sealer_of(ledger)
    subject_id = make_subject(ledger)
    request = ledger.request_destruction(subject_id, "reason", ctx(T0, "staff-1"))

    def crash(subject_id: UUID) -> None:
        raise RuntimeError("the process died after the commit")

    monkeypatch.setattr(sealer, "destroy", crash)
    with pytest.raises(RuntimeError):
        ledger.approve_destruction(request["id"], ctx(T0 + H, "lead-2"))
    monkeypatch.undo()
    assert ledger.subject(subject_id).is_destroyed  # recorded ...
    assert sealer.keys.get(UUID(subject_id)) is not None  # ... but the key is still there
    assert ledger.destruction_request(request["id"]).is_approved
    length = ledger.log_length()

    first = ledger.approve_destruction(request["id"], ctx(T0 + 2 * H, "lead-3"))
    again = ledger.approve_destruction(request["id"], ctx(T0 + 3 * H, "lead-2"))

    assert first == again
    assert first["destroyed_at"] == (T0 + H).isoformat()
    assert sealer.keys.get(UUID(subject_id)) is None
    assert sealer.is_destroyed(UUID(subject_id))
    assert ledger.log_length() == length  # the repair records nothing new
    ledger.close()


def test_the_requester_cannot_approve_and_a_decided_request_cannot_be_decided_again(
    ledger: Ledger,
) -> None:
    subject_id = make_subject(ledger)
    request = ledger.request_destruction(subject_id, "reason", ctx(T0, "staff-1"))
    with pytest.raises(RuleViolationError) as raised:
        ledger.approve_destruction(request["id"], ctx(T0 + H, "staff-1"))
    assert raised.value.rule == "destruction.approve.self_approval"
    assert not sealer_of(ledger).is_destroyed(UUID(subject_id))

    rejected = ledger.reject_destruction(request["id"], "still needed", ctx(T0 + H, "lead-2"))
    assert rejected["status"] == "rejected"
    with pytest.raises(RuleViolationError) as raised:
        ledger.approve_destruction(request["id"], ctx(T0 + 2 * H, "lead-2"))
    assert raised.value.rule == "destruction.approve.not_requested"
    subject = ledger.subject(subject_id)
    assert not subject.is_destroyed
    assert sealer_of(ledger).unseal(subject.id, subject.sealed)["name"] == NAME

    request_and_approve(ledger, subject_id)
    with pytest.raises(RuleViolationError) as raised:
        ledger.request_destruction(subject_id, "again", ctx(T0 + 3 * H, "staff-1"))
    assert raised.value.rule == "subject.destroyed"


def test_a_destroyed_subject_never_gets_a_new_data_key(ledger: Ledger) -> None:
    subject_id = make_subject(ledger)
    request_and_approve(ledger, subject_id)
    with pytest.raises(SubjectDataDestroyedError):
        ledger.services.sealer.seal(UUID(subject_id), {"name": "someone else"})
    assert sealer_of(ledger).keys.get(UUID(subject_id)) is None


def test_a_subject_without_a_key_is_reported_as_missing_not_destroyed(ledger: Ledger) -> None:
    subject_id = UUID(make_subject(ledger))
    stranger = UUID(int=7)
    with pytest.raises(SubjectDataDestroyedError) as raised:
        ledger.services.sealer.unseal(stranger, {"name": "tzf1:AAAA"})
    assert not raised.value.destroyed
    assert not ledger.services.sealer.is_destroyed(subject_id)


def test_a_wrong_master_key_stops_the_service_at_start(store: Store) -> None:
    ledger = store.open()
    make_subject(ledger)
    right = sealer_of(ledger).master
    ledger.close()
    with pytest.raises(ConfigurationError, match="not in the key file"):
        store.open(master=new_master_keyring())
    impostor = dataclasses.replace(right.current, secret=bytes(32))  # same id, other secret
    with pytest.raises(ConfigurationError, match="cannot unwrap"):
        store.open(master=Keyring((impostor,), impostor.key_id))


def test_a_missing_master_key_stops_the_service_with_a_clear_message(store: Store) -> None:
    data = read_key_file(store.settings.key_file)
    del data[MASTER_SECTION]
    write_key_file(store.settings.key_file, data)
    with pytest.raises(ConfigurationError, match=r"no master key.*rotate-master"):
        store.open()


def test_a_master_key_from_the_environment_must_be_the_one_that_wrapped_the_keys(
    store: Store,
) -> None:
    from_file = store.settings
    env_key = base64.b64encode(bytes(range(32))).decode()
    store.settings = Settings.from_env(
        {
            MASTER_KEY_ENV: env_key,
            "TAIZHANG_DATA_DIR": str(from_file.data_dir),
            "TAIZHANG_DATABASE_URL": from_file.database_url or "",
        }
    )
    ledger = store.open()
    subject_id = make_subject(ledger)
    assert sealer_of(ledger).keys.get(UUID(subject_id)).master_key_id == "env-master"  # type: ignore[union-attr]
    ledger.close()
    store.open().close()  # the same key opens it again
    store.settings = replace(store.settings, master_key=base64.b64encode(bytes(32)).decode())
    with pytest.raises(ConfigurationError, match="cannot unwrap"):
        store.open()
    store.settings = from_file
    with pytest.raises(ConfigurationError, match="not in the key file"):
        store.open()  # the file's master key did not wrap this subject's key


def test_no_mask_of_a_destroyed_subject_remains_in_the_log(store: Store) -> None:
    ledger = store.open()
    subject_id = make_subject(ledger)
    masks = ledger.masks(ledger.subject(subject_id))
    assert masks["id_number"].endswith("002X")
    request_and_approve(ledger, subject_id)
    states = decrypted_log(store, ledger)
    ledger.close()
    for mask in masks.values():
        assert not any(mask.encode("utf-8") in state for state in states)


@contextmanager
def an_older_snapshot(store: Store) -> Iterator[None]:
    """Another session reading from a snapshot taken now, as a running backup would."""
    if store.kind == "sqlite":
        conn = sqlite3.connect(store.settings.sqlite_path, isolation_level=None)
        conn.execute("BEGIN")
        conn.execute("SELECT COUNT(*) FROM subject_keys").fetchone()
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    with psycopg.connect(POSTGRES_URL) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        conn.execute(f"SELECT COUNT(*) FROM {store.schema}.subject_keys").fetchone()
        try:
            yield
        finally:
            conn.rollback()


def test_a_snapshot_older_than_the_destruction_is_reported_and_approving_again_purges(
    store: Store,
) -> None:
    ledger = store.open()
    sealer = sealer_of(ledger)
    sealer.keys.purge_wait_seconds = 0.5
    subject_id = make_subject(ledger)
    data_key, wrapped = key_material(ledger, subject_id)
    request = ledger.request_destruction(subject_id, "reason", ctx(T0, "staff-1"))

    with an_older_snapshot(store):
        with pytest.raises(KeyRemnantError, match="approve the destruction again"):
            ledger.approve_destruction(request["id"], ctx(T0 + H, "lead-2"))
        assert ledger.subject(subject_id).is_destroyed  # recorded, and the key row is gone ...
        assert sealer.keys.get(UUID(subject_id)) is None
        assert sealer.is_destroyed(UUID(subject_id))
        assert wrapped in stored_bytes(store)  # ... but an old copy is still in the files

    again = ledger.approve_destruction(request["id"], ctx(T0 + 2 * H, "lead-2"))
    assert again["status"] == "destroyed"
    assert_nothing_of_the_subject_is_stored(store, data_key, wrapped)
    ledger.close()


@pytest.mark.postgres
def test_a_service_role_that_does_not_own_the_key_table_is_told_so_not_falsely_reassured(
    postgres_store: Store,
) -> None:
    """PostgreSQL lets only a table's owner VACUUM it, and skips it for others with a warning."""
    store = postgres_store
    role = f"tz_app_{uuid4().hex[:8]}"
    owner_ledger = store.open()
    grant_app_role(ViewDatabase(owner_ledger), role)  # makes the role the key table's owner
    owner_ledger.close()
    store.sql(f"ALTER TABLE {store.schema}.subject_keys OWNER TO postgres")  # as if it had not
    store.sql(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {store.schema}.subject_keys TO {role}")
    as_app = dataclasses.replace(
        store.settings,
        database_url=f"postgresql://{role}@127.0.0.1:5432/test?schema={store.schema}",
    )
    try:
        ledger = open_ledger(as_app)
        subject_id = make_subject(ledger)
        data_key, wrapped = key_material(ledger, subject_id)
        request = ledger.request_destruction(subject_id, "reason", ctx(T0, "staff-1"))
        with pytest.raises(KeyRemnantError, match="does not own the key table"):
            ledger.approve_destruction(request["id"], ctx(T0 + H, "lead-2"))
        assert wrapped in stored_bytes(store)

        store.sql(f"ALTER TABLE {store.schema}.subject_keys OWNER TO {role}")
        ledger.approve_destruction(request["id"], ctx(T0 + 2 * H, "lead-2"))
        assert_nothing_of_the_subject_is_stored(store, data_key, wrapped)
        ledger.close()
    finally:
        store.sql(f"DROP OWNED BY {role}")
        store.sql(f"DROP ROLE IF EXISTS {role}")


def test_without_the_purge_the_scan_would_find_the_deleted_key(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A control: deleting the row is not enough, the database keeps an old copy of it."""
    ledger = store.open()
    subject_id = make_subject(ledger)
    _, wrapped = key_material(ledger, subject_id)
    monkeypatch.setattr(SubjectKeyTable, "purge", lambda self, subject_id=None, after=None: None)
    request_and_approve(ledger, subject_id)
    assert sealer_of(ledger).keys.get(UUID(subject_id)) is None
    assert wrapped in stored_bytes(store)
    ledger.close()
