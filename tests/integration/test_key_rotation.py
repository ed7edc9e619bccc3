"""``taizhang keys`` on SQLite and PostgreSQL: rotations keep every event and subject readable.

The commands run through typer's CliRunner with the store's settings in the
environment, as an operator would run them; nothing is mocked.
"""

from __future__ import annotations

import base64
import stat
from typing import Any
from uuid import UUID

import orjson
import pytest
from typer.testing import CliRunner, Result

from crypto.envelope import EnvelopeSealer
from crypto.keyfile import MASTER_SECTION, read_key_file
from crypto.store_cipher import key_id_of
from domain.ledger import Ledger
from taizhang.cli import app
from tests.conftest import Store
from tests.integration.test_ledger_store import (
    ID_NUMBER,
    MOBILE,
    NAME,
    T0,
    make_subject,
    make_ticket,
    stored_bytes,
)

PLAIN = {"name": NAME, "id_number": ID_NUMBER, "mobile": MOBILE}


def keys(store: Store, *args: str, env: dict[str, str | None] | None = None) -> Result:
    """Run ``taizhang keys ARGS --data-dir ...`` against the store, as a separate command."""
    environment: dict[str, str | None] = {
        "TAIZHANG_DATA_DIR": None,
        "TAIZHANG_DATABASE_URL": store.settings.database_url,
        "TAIZHANG_STORE_KEY": None,
        "TAIZHANG_MASTER_KEY": None,
        **(env or {}),
    }
    return CliRunner().invoke(
        app, ["keys", *args, "--data-dir", str(store.settings.data_dir)], env=environment
    )


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def listing(store: Store) -> dict[str, Any]:
    return orjson.loads(ok(keys(store, "list", "--json")))


def sealer_of(ledger: Ledger) -> EnvelopeSealer:
    sealer = ledger.services.sealer
    assert isinstance(sealer, EnvelopeSealer)
    return sealer


def secrets_of(store: Store) -> list[str]:
    data = read_key_file(store.settings.key_file)
    return [k["secret"] for section in ("store", MASTER_SECTION) for k in data[section]["keys"]]


def assert_private(store: Store) -> None:
    mode = stat.S_IMODE(store.settings.key_file.stat().st_mode)
    assert mode == 0o600, f"key file mode {mode:o}"


def test_events_written_before_and_after_store_key_rotations_all_read_back(store: Store) -> None:
    phases: list[tuple[str, int]] = []  # (current key id, events written under it)
    subjects: list[str] = []
    for rotation in (None, [], ["--algorithm", "SM4-GCM"]):
        if rotation is not None:
            output = ok(keys(store, "rotate", *rotation))
            assert "new current store key" in output
            assert_private(store)
        ledger = store.open()
        before = ledger.log_length()
        subject_id = make_subject(ledger)
        make_ticket(ledger, subject_id, T0)
        subjects.append(subject_id)
        phases.append((ledger.mapper.cipher.keyring.current_id, ledger.log_length() - before))  # type: ignore[union-attr]
        ledger.close()

    ledger = store.open()
    notifications = ledger.recorder.select_notifications(start=1, limit=100_000)
    for notification in notifications:
        ledger.mapper.to_domain_event(notification)  # every event decrypts, old and new
    for subject_id in subjects:
        subject = ledger.subject(subject_id)
        assert sealer_of(ledger).unseal(subject.id, subject.sealed) == PLAIN
    assert len({key_id_of(n.state) for n in notifications}) == 3
    log_length = ledger.log_length()
    ledger.close()

    shown = listing(store)
    counts = {key["id"]: key["events"] for key in shown["store"]}
    assert sum(counts.values()) == log_length == shown["log_length"]
    assert shown["unknown_store_keys"] == []
    first_key = shown["store"][0]["id"]
    assert counts[first_key] == log_length - sum(n for _, n in phases[1:])
    for key_id, written in phases[1:]:
        assert counts[key_id] == written
    assert [k["algorithm"] for k in shown["store"]] == ["AES-256-GCM", "AES-256-GCM", "SM4-GCM"]
    assert [k["current"] for k in shown["store"]] == [False, False, True]

    text = ok(keys(store, "list"))
    assert f"{log_length} events in the log" in text
    for secret in secrets_of(store):
        assert secret not in text


def test_rotate_master_rewraps_every_data_key_and_drops_the_old_master_key(store: Store) -> None:
    ledger = store.open()
    subjects = [make_subject(ledger) for _ in range(5)]
    sealer = sealer_of(ledger)
    old_master = sealer.master.current
    old_wrapped = [sealer.keys.get(UUID(s)).wrapped for s in subjects]  # type: ignore[union-attr]
    ledger.close()

    output = ok(keys(store, "rotate-master"))

    assert "re-wrapped 5 data keys" in output
    assert_private(store)
    master = read_key_file(store.settings.key_file)[MASTER_SECTION]
    assert len(master["keys"]) == 1
    assert master["current"] != old_master.key_id
    file_text = store.settings.key_file.read_text("utf-8")
    assert old_master.key_id not in file_text
    assert base64.b64encode(old_master.secret).decode() not in file_text
    for secret in secrets_of(store):
        assert secret not in output

    ledger = store.open()
    sealer = sealer_of(ledger)
    assert sealer.keys.count_by_master_key() == {master["current"]: 5}
    for subject_id in subjects:
        subject = ledger.subject(subject_id)
        assert sealer.unseal(subject.id, subject.sealed) == PLAIN
    ledger.close()
    blob = stored_bytes(store)
    for wrapped in old_wrapped:  # no copy wrapped by the discarded key remains in the tables
        assert wrapped not in blob

    shown = listing(store)
    assert [(k["id"], k["data_keys"], k["current"]) for k in shown["master"]] == [
        (master["current"], 5, True)
    ]


def test_rotate_master_creates_the_first_master_key_of_an_old_key_file(store: Store) -> None:
    data = read_key_file(store.settings.key_file)
    del data[MASTER_SECTION]
    from crypto.keyfile import write_key_file

    write_key_file(store.settings.key_file, data)
    assert "re-wrapped 0 data keys" in ok(keys(store, "rotate-master"))
    ledger = store.open()
    assert sealer_of(ledger).unseal(*_sealed(ledger, make_subject(ledger))) == PLAIN
    ledger.close()


def _sealed(ledger: Ledger, subject_id: str) -> tuple[UUID, dict[str, str]]:
    subject = ledger.subject(subject_id)
    return subject.id, subject.sealed


ZERO_KEY = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["rotate"], {"TAIZHANG_STORE_KEY": ZERO_KEY}, "TAIZHANG_STORE_KEY"),
        (["rotate", "--algorithm", "DES"], {}, "unknown store cipher"),
        (["rotate-master"], {"TAIZHANG_MASTER_KEY": ZERO_KEY}, "TAIZHANG_MASTER_KEY"),
    ],
)
def test_a_refused_key_command_exits_non_zero_with_one_line(
    store: Store, args: list[str], env: dict[str, str], message: str
) -> None:
    before = store.settings.key_file.read_bytes()
    result = keys(store, *args, env=env)
    assert result.exit_code == 1
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert store.settings.key_file.read_bytes() == before


def test_rotate_master_refuses_a_master_key_that_does_not_fit_the_stored_keys(
    store: Store,
) -> None:
    ledger = store.open()
    make_subject(ledger)
    ledger.close()
    data = read_key_file(store.settings.key_file)
    data[MASTER_SECTION]["keys"][0]["secret"] = base64.b64encode(bytes(32)).decode()
    from crypto.keyfile import write_key_file

    write_key_file(store.settings.key_file, data)
    before = store.settings.key_file.read_bytes()
    result = keys(store, "rotate-master")
    assert result.exit_code == 1
    assert "cannot unwrap" in result.output
    assert store.settings.key_file.read_bytes() == before  # nothing changed, nothing lost
