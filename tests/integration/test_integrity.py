"""The tamper-evident log on SQLite and PostgreSQL: triggers, sealing, verify, bundles.

The tamper tests act as a DBA: superuser, triggers switched off, raw SQL.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from crypto.row_mapper import RowDecryptionError
from domain.ledger import Ledger
from projections.database import ViewDatabase
from replay.bundle import export_bundle, verify_bundle
from replay.sealer import Sealer
from replay.verify import verify_log
from taizhang.cli import app as cli
from taizhang.demo import run_demo
from taizhang.integrity import head_verifier, open_sealer
from tests.conftest import POSTGRES_URL, Store


@dataclass
class Sealed:
    store: Store
    ledger: Ledger
    sealer: Sealer

    @property
    def size(self) -> int:
        return self.sealer.tree.size

    def verify(self):  # type: ignore[no-untyped-def]
        return verify_log(ViewDatabase(self.ledger), head_verifier(self.store.settings))

    def table(self) -> str:
        return "stored_events" if self.store.kind == "sqlite" else "taizhang_events"

    def pos(self) -> str:
        return "rowid" if self.store.kind == "sqlite" else "notification_id"

    def as_dba(self, *statements: tuple[str, tuple[object, ...]]) -> None:
        """Run statements with the append-only triggers switched off."""
        table = self.table()
        if self.store.kind == "sqlite":
            import sqlite3

            with sqlite3.connect(self.store.settings.sqlite_path) as conn:
                for op in ("update", "delete"):
                    conn.execute(f"DROP TRIGGER IF EXISTS {table}_append_only_{op}")
                for sql, params in statements:
                    conn.execute(sql.replace("%s", "?"), params)
            return
        with psycopg.connect(POSTGRES_URL, autocommit=False) as conn:
            conn.execute(f"SET search_path TO {self.store.schema}")
            conn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            for sql, params in statements:
                conn.execute(sql, params)
            conn.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")

    def state(self, position: int) -> bytes:
        rows = self.store.sql(
            f"SELECT state FROM {self.table()} WHERE {self.pos()} = "
            + ("?" if self.store.kind == "sqlite" else "%s"),
            (position,),
        )
        return bytes(rows[0][0])


@pytest.fixture
def sealed(store: Store) -> Iterator[Sealed]:
    ledger = store.open()
    run_demo(ledger, days=2, seed=7, scale=0.02, start=date(2026, 6, 1))
    sealer = open_sealer(ledger, store.settings)
    assert sealer.seal_once(force=True) is not None
    yield Sealed(store, ledger, sealer)
    ledger.close()


def test_a_clean_log_verifies(sealed: Sealed) -> None:
    report = sealed.verify()
    assert report.ok, report.findings
    assert report.sealed == report.records == sealed.size > 100


def test_update_delete_and_truncate_of_the_log_fail_in_the_database(sealed: Sealed) -> None:
    table, pos = sealed.table(), sealed.pos()
    mark = "?" if sealed.store.kind == "sqlite" else "%s"
    attempts = [
        f"UPDATE {table} SET topic = 'x' WHERE {pos} = {mark}",
        f"DELETE FROM {table} WHERE {pos} = {mark}",
        f"UPDATE tree_heads SET root_hash = root_hash WHERE tree_size > {mark}",
        f"DELETE FROM merkle_leaves WHERE first_index >= {mark}",
    ]
    for statement in attempts:
        with pytest.raises(Exception, match="append-only"):
            sealed.store.sql(statement, (1,))
    if sealed.store.kind == "postgresql":
        with pytest.raises(psycopg.Error, match="append-only"):
            sealed.store.sql(f"TRUNCATE {table}")
    else:
        with pytest.raises(Exception, match="append-only"):
            sealed.store.sql(f"DELETE FROM {table}")
    assert sealed.verify().ok


def test_a_flipped_byte_is_found_at_its_position(sealed: Sealed) -> None:
    state = bytearray(sealed.state(17))
    state[len(state) // 2] ^= 0x01
    sealed.as_dba(
        (f"UPDATE {sealed.table()} SET state = %s WHERE {sealed.pos()} = %s", (bytes(state), 17))
    )
    report = sealed.verify()
    assert not report.ok
    first = report.first()
    assert (first.kind, first.position) == ("modified", 17)


def test_two_swapped_ciphertexts_are_found_and_neither_decrypts(sealed: Sealed) -> None:
    a, b = sealed.state(20), sealed.state(31)
    table, pos = sealed.table(), sealed.pos()
    sealed.as_dba(
        (f"UPDATE {table} SET state = %s WHERE {pos} = %s", (b, 20)),
        (f"UPDATE {table} SET state = %s WHERE {pos} = %s", (a, 31)),
    )
    kinds = {(f.kind, f.position) for f in sealed.verify().findings}
    assert kinds == {("swapped", 20), ("swapped", 31)}
    for position in (20, 31):
        notification = sealed.ledger.recorder.select_notifications(start=position, limit=1)[0]
        with pytest.raises(RowDecryptionError, match="does not decrypt in its row"):
            sealed.ledger.mapper.to_domain_event(notification)


def test_a_deleted_row_is_found(sealed: Sealed) -> None:
    sealed.as_dba((f"DELETE FROM {sealed.table()} WHERE {sealed.pos()} = %s", (40,)))
    first = sealed.verify().first()
    assert (first.kind, first.position) == ("deleted", 40)


def test_a_forged_row_inserted_into_the_sealed_log_is_found(sealed: Sealed) -> None:
    table, pos = sealed.table(), sealed.pos()
    top = sealed.size
    forged_state = sealed.state(5)
    shift = [
        (f"UPDATE {table} SET {pos} = %s WHERE {pos} = %s", (p + 1, p)) for p in range(top, 44, -1)
    ]
    topic = "domain.ticket:Ticket.Registered"
    forged_id = uuid.uuid4()
    ident = forged_id.hex if sealed.store.kind == "sqlite" else forged_id
    sealed.as_dba(
        *shift,
        (
            f"INSERT INTO {table} ({pos}, originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s, %s)",
            (45, ident, 1, topic, forged_state),
        ),
    )
    first = sealed.verify().first()
    assert (first.kind, first.position) == ("inserted", 45)


def test_a_reordering_is_found(sealed: Sealed) -> None:
    table, pos = sealed.table(), sealed.pos()
    sealed.as_dba(
        (f"UPDATE {table} SET {pos} = %s WHERE {pos} = %s", (-1, 60)),
        (f"UPDATE {table} SET {pos} = %s WHERE {pos} = %s", (60, 61)),
        (f"UPDATE {table} SET {pos} = %s WHERE {pos} = %s", (61, -1)),
    )
    kinds = {(f.kind, f.position) for f in sealed.verify().findings}
    assert kinds == {("reordered", 60), ("reordered", 61)}


def test_a_forged_tree_head_signature_is_found(sealed: Sealed) -> None:
    head = sealed.sealer.latest
    forged = bytes(64)
    statement = "UPDATE tree_heads SET signature = %s WHERE tree_size = %s"
    if sealed.store.kind == "sqlite":
        import sqlite3

        with sqlite3.connect(sealed.store.settings.sqlite_path) as conn:
            conn.execute("DROP TRIGGER tree_heads_append_only_update")
            conn.execute(statement.replace("%s", "?"), (forged, head.tree_size))
    else:
        with psycopg.connect(POSTGRES_URL) as conn:
            conn.execute(f"SET search_path TO {sealed.store.schema}")
            conn.execute("ALTER TABLE tree_heads DISABLE TRIGGER USER")
            conn.execute(statement, (forged, head.tree_size))
    kinds = [f.kind for f in sealed.verify().findings]
    assert kinds == ["head_signature_invalid"]


def test_verify_exits_0_on_a_clean_log_and_1_on_tampering(sealed: Sealed) -> None:
    runner = CliRunner()
    env = _cli_env(sealed.store)
    clean = runner.invoke(cli, ["verify", "--json"], env=env)
    assert clean.exit_code == 0, clean.output
    sealed.as_dba((f"DELETE FROM {sealed.table()} WHERE {sealed.pos()} = %s", (3,)))
    tampered = runner.invoke(cli, ["verify"], env=env)
    assert tampered.exit_code == 1
    assert "deleted at position 3" in tampered.output


def test_verify_exits_2_when_it_cannot_run(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["verify", "--data-dir", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no key file" in result.output


def _cli_env(store: Store) -> dict[str, str]:
    env = {"TAIZHANG_DATA_DIR": str(store.settings.data_dir)}
    if store.settings.database_url:
        env["TAIZHANG_DATABASE_URL"] = store.settings.database_url
    return env


def test_an_audit_bundle_verifies_offline_and_catches_a_changed_record(
    sealed: Sealed, tmp_path: Path
) -> None:
    first = sealed.sealer.latest
    run_demo(sealed.ledger, days=1, seed=8, scale=0.02, start=date(2026, 6, 8))
    second = sealed.sealer.seal_once(force=True)
    bundle = tmp_path / "bundle.jsonl"
    with bundle.open("wb") as out:
        written = export_bundle(sealed.sealer, first.tree_size, second.tree_size, out)
    assert written == second.tree_size
    report = verify_bundle(bundle, trusted_head=first.as_dict())
    assert report.ok, report.problems
    assert f"consistency proof {first.tree_size} -> {second.tree_size} verifies" in report.checks

    lines = bundle.read_bytes().splitlines()
    lines[10] = (
        lines[10].replace(b'"version":1', b'"version":2', 1)
        if b'"version":1' in lines[10]
        else lines[10][:-5] + b'AAAA"}'
    )
    tampered = tmp_path / "tampered.jsonl"
    tampered.write_bytes(b"\n".join(lines) + b"\n")
    assert not verify_bundle(tampered).ok


def test_a_bundle_does_not_extend_a_head_from_another_log(sealed: Sealed, tmp_path: Path) -> None:
    head = sealed.sealer.latest
    bundle = tmp_path / "bundle.jsonl"
    with bundle.open("wb") as out:
        export_bundle(sealed.sealer, 0, head.tree_size, out)
    other = head.as_dict() | {"root_hash": "00" * 32}
    report = verify_bundle(bundle, trusted_head=other)
    assert not report.ok


def test_the_sealer_signs_after_n_events(store: Store) -> None:
    ledger = store.open()
    sealer = open_sealer(ledger, store.settings)
    sealer.every_events, sealer.every_seconds = 50, 3600
    sealer.seal_once(force=True)
    assert sealer.seal_once() is None  # nothing waiting
    run_demo(ledger, days=1, seed=3, scale=0.02, start=date(2026, 6, 1))
    assert ledger.log_length() - sealer.tree.size >= 50
    head = sealer.seal_once()
    assert head is not None
    assert head.tree_size == ledger.log_length()
    assert sealer.seal_once() is None  # nothing new: no new head
    ledger.close()


@pytest.mark.postgres
def test_the_service_role_can_append_but_never_rewrite_the_log(postgres_store: Store) -> None:
    store = postgres_store
    role = f"tz_app_{uuid.uuid4().hex[:8]}"
    env = _cli_env(store)
    setup = CliRunner().invoke(cli, ["db", "setup", "--app-role", role], env=env)
    assert setup.exit_code == 0, setup.output
    try:
        from dataclasses import replace

        as_app = replace(
            store.settings,
            database_url=f"postgresql://{role}@127.0.0.1:5432/test?schema={store.schema}",
        )
        from taizhang.bootstrap import open_ledger

        ledger = open_ledger(as_app)
        before = ledger.log_length()
        run_demo(ledger, days=1, seed=5, scale=0.01, start=date(2026, 6, 1))
        assert ledger.log_length() > before  # appends work through the advisory lock
        sealer = open_sealer(ledger, as_app)
        assert sealer.seal_once(force=True) is not None
        ledger.close()
        with psycopg.connect(f"postgresql://{role}@127.0.0.1:5432/test", autocommit=True) as conn:
            conn.execute(f"SET search_path TO {store.schema}")
            for statement in (
                "UPDATE taizhang_events SET topic = 'x'",
                "DELETE FROM taizhang_events",
                "TRUNCATE taizhang_events",
                "DELETE FROM tree_heads",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(statement)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE IF EXISTS {role}")
