"""The Ledger on SQLite and on PostgreSQL: round trips, secrecy at rest, conflicts."""

from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from domain.calendar import SHANGHAI
from domain.errors import (
    ConcurrentWriteError,
    ConfigurationError,
    IdempotencyConflictError,
    InvalidIdentifierError,
)
from domain.ledger import Context, Idempotency, Ledger
from domain.people import Credential, User
from tests.conftest import Store

T0 = datetime(2026, 11, 2, 9, 30, tzinfo=SHANGHAI)
H = timedelta(hours=1)
NAME = "欧阳测试甲乙"
ID_NUMBER = "11010519491231002X"
MOBILE = "13912345678"
DESCRIPTION = "MARKER-DESCRIPTION-7f3a 反映某企业拖欠工资问题"


def ctx(at: datetime, actor: str = "staff-1") -> Context:
    return Context(actor=actor, at=at)


def make_subject(ledger: Ledger, at: datetime = T0) -> str:
    receipt = ledger.register_subject(
        kind="person", name=NAME, id_number=ID_NUMBER, mobile=MOBILE, ctx=ctx(at)
    )
    return receipt["id"]


def make_ticket(ledger: Ledger, subject_id: str, at: datetime = T0) -> str:
    return ledger.open_ticket(
        channel="phone",
        requester_id=subject_id,
        description=DESCRIPTION,
        received_at=at,
        ctx=ctx(at),
    )["id"]


def run_every_command(ledger: Ledger) -> None:
    """One of each lifecycle step of every aggregate."""
    subject_id = make_subject(ledger)
    enterprise = ledger.register_subject(
        kind="enterprise", name="济南测试科技有限公司", uscc="91350100M000100Y43", ctx=ctx(T0)
    )["id"]
    ticket_id = make_ticket(ledger, subject_id)
    t = T0
    steps = [
        lambda tk, at: tk.review_entry(passed=True, notes="登记无误", at=at, by="lead"),
        lambda tk, at: tk.classify(
            nature="complaint",
            urgency="urgent",
            business_type="employment",
            complexity="complex",
            sub_type="工资拖欠",
            at=at,
            by="h1",
        ),
        lambda tk, at: tk.assign(assignee="h1", team=["h2"], at=at, by="lead"),
        lambda tk, at: tk.release(reason="承办人离职", at=at, by="lead"),
        lambda tk, at: tk.assign(assignee="h2", team=["h3"], at=at, by="lead"),
        lambda tk, at: tk.record_step(measure="电话核实", result="已核实", at=at, by="h2"),
        lambda tk, at: tk.pause(reason="等待材料", at=at, by="h2"),
        lambda tk, at: tk.resume(at=at, by="h2"),
        lambda tk, at: tk.resolve(result="已协调解决", at=at, by="h2"),
        lambda tk, at: tk.record_callback(
            kind="phone", satisfaction=4, problems=None, at=at, by="s1"
        ),
        lambda tk, at: tk.review(passed=True, notes=None, at=at, by="qs"),
    ]
    for step in steps:
        t += timedelta(minutes=10)
        ledger.change_ticket(ticket_id, ctx(t), step)
    case_id = ledger.open_case(
        service_type="funding_support",
        subject_id=enterprise,
        materials=["申请表"],
        received_at=T0,
        ctx=ctx(T0),
    )["id"]
    case_steps = [
        lambda c, at: c.accept(materials_complete=False, missing=["营业执照副本"], at=at, by="s1"),
        lambda c, at: c.supply_materials(["营业执照副本"], at=at, by="s1"),
        lambda c, at: c.accept(materials_complete=True, missing=None, at=at, by="s1"),
        lambda c, at: c.assign(assignee="s2", reason="转交", at=at, by="lead"),
        lambda c, at: c.decide(approved=True, notes="符合条件", at=at, by="lead"),
        lambda c, at: c.give_feedback(result="已拨付", at=at, by="s2"),
        lambda c, at: c.record_callback(kind="sms", satisfaction=5, problems=None, at=at, by="s1"),
        lambda c, at: c.review(passed=False, notes="材料登记不全", at=at, by="qs"),
    ]
    t = T0
    for step in case_steps:
        t += timedelta(minutes=10)
        ledger.change_case(case_id, ctx(t), step)
    user = ledger.add_user(name="工单专员", role="ticket_handler", ctx=ctx(T0))
    staff = ledger.user(user["id"])
    staff.deactivate(reason="离职", at=T0 + H, by="lead")
    credential = ledger.repository.get(
        next(c for c in _credentials(ledger) if c.user_id == user["id"]).id
    )
    credential.revoke(at=T0 + H, by="lead")
    subject = ledger.subject(subject_id)
    subject.record_destruction(request_id="req-1", at=T0 + H, by="lead")
    ledger.save(staff, credential, subject)
    ledger.register_subject(
        kind="person",
        name="重试",
        ctx=Context("staff-1", at=T0, idempotency=Idempotency("key-1", "fp-1")),
    )


def _credentials(ledger: Ledger) -> list[Credential]:
    found = []
    for n in ledger.recorder.select_notifications(start=1, limit=10_000):
        event = ledger.mapper.to_domain_event(n)
        if isinstance(event, Credential.Issued):
            found.append(ledger.repository.get(event.originator_id))
    return found


EVERY_EVENT = {
    "Ticket.Registered",
    "Ticket.EntryReviewed",
    "Ticket.Classified",
    "Ticket.Assigned",
    "Ticket.Released",
    "Ticket.StepRecorded",
    "Ticket.Resolved",
    "WorkItem.Paused",
    "WorkItem.Resumed",
    "WorkItem.CallbackRecorded",
    "WorkItem.Reviewed",
    "ServiceCase.Opened",
    "ServiceCase.MaterialsRequested",
    "ServiceCase.MaterialsSupplied",
    "ServiceCase.Accepted",
    "ServiceCase.Assigned",
    "ServiceCase.Decided",
    "ServiceCase.Closed",
    "Subject.Registered",
    "Subject.Destroyed",
    "User.Registered",
    "User.Deactivated",
    "Credential.Issued",
    "Credential.Revoked",
    "NumberSequence.Started",
    "NumberSequence.Allocated",
    "IdempotencyRecord.Recorded",
}


def test_every_event_type_round_trips_through_the_store(store: Store) -> None:
    ledger = store.open()
    saved = []
    original_save = ledger.save

    def recording_save(*objs, **kwargs):  # type: ignore[no-untyped-def]
        recordings = original_save(*objs, **kwargs)
        saved.extend(recordings)
        return recordings

    ledger.save = recording_save  # type: ignore[method-assign]
    run_every_command(ledger)
    ledger.close()

    reopened = store.open()
    by_position = {
        n.id: reopened.mapper.to_domain_event(n)
        for n in reopened.recorder.select_notifications(start=1, limit=100_000)
    }
    assert {type(r.domain_event).__qualname__ for r in saved} == EVERY_EVENT
    for recording in saved:
        assert by_position[recording.notification.id] == recording.domain_event
    reopened.close()


def test_no_personal_field_or_description_is_stored_in_plaintext(store: Store) -> None:
    ledger = store.open()
    ticket_id = make_ticket(ledger, make_subject(ledger))
    assert ledger.ticket(ticket_id).description == DESCRIPTION  # it is there, encrypted
    ledger.close()
    secrets = [NAME, ID_NUMBER, MOBILE, "MARKER-DESCRIPTION-7f3a", "拖欠工资"]
    blob = stored_bytes(store)
    assert b"domain.ticket:Ticket.Registered" in blob  # the scan does see the events' rows
    for secret in secrets:
        assert secret.encode("utf-8") not in blob, f"{secret!r} found in plaintext"


def stored_bytes(store: Store) -> bytes:
    """Every byte the database keeps on disk for this store."""
    if store.kind == "sqlite":
        base = store.settings.sqlite_path
        parts = [base, Path(f"{base}-wal"), Path(f"{base}-shm")]
        return b"".join(p.read_bytes() for p in parts if p.exists())
    store.sql("CHECKPOINT")
    rows = store.sql(
        "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r','t','i') "
        "UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.reltoastrelid <> 0",
        (store.schema, store.schema),
    )
    blob = b""
    for (path,) in rows:
        if path:
            blob += bytes(store.sql("SELECT pg_read_binary_file(%s)", (path,))[0][0])
    return blob


def test_a_concurrent_write_to_the_same_ticket_is_a_conflict(store: Store) -> None:
    first, second = store.open(), store.open()
    ticket_id = make_ticket(first, make_subject(first))
    length_before = first.log_length()

    def classify_while_another_writer_wins(ticket, at):  # type: ignore[no-untyped-def]
        second.change_ticket(
            ticket_id,
            ctx(at),
            lambda t, when: t.classify(
                nature="consultation",
                urgency="general",
                business_type="employment",
                complexity="simple",
                at=when,
                by="other",
            ),
        )
        ticket.classify(
            nature="complaint",
            urgency="urgent",
            business_type="employment",
            complexity="simple",
            at=at,
            by="me",
        )

    with pytest.raises(ConcurrentWriteError):
        first.change_ticket(ticket_id, ctx(T0 + H), classify_while_another_writer_wins)
    assert first.log_length() == length_before + 1
    assert first.ticket(ticket_id).classification["nature"] == "consultation"
    first.close()
    second.close()


def test_racing_threads_on_one_ticket_never_lose_an_update(store: Store) -> None:
    ledger = store.open()
    ticket_id = make_ticket(ledger, make_subject(ledger))
    ledger.change_ticket(
        ticket_id,
        ctx(T0),
        lambda t, at: t.classify(
            nature="consultation",
            urgency="general",
            business_type="employment",
            complexity="simple",
            at=at,
            by="h",
        ),
    )
    ledger.change_ticket(ticket_id, ctx(T0), lambda t, at: t.assign(assignee="h", at=at, by="l"))
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def worker(n: int) -> None:
        barrier.wait()
        try:
            ledger.change_ticket(
                ticket_id,
                ctx(T0 + H),
                lambda t, at: t.record_step(measure=f"step {n}", result="ok", at=at, by="h"),
            )
            outcomes.append("ok")
        except ConcurrentWriteError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    steps = ledger.ticket(ticket_id).steps
    assert outcomes.count("ok") == len(steps) >= 1
    assert len(outcomes) == 4
    ledger.close()


def test_a_bad_resident_id_is_refused_and_nothing_is_stored(ledger: Ledger) -> None:
    before = ledger.log_length()
    with pytest.raises(InvalidIdentifierError) as excinfo:
        ledger.register_subject(
            kind="person", name="张三", id_number="110105194912310021", ctx=ctx(T0)
        )
    assert excinfo.value.field == "id_number"
    assert ID_NUMBER not in excinfo.value.message
    assert ledger.log_length() == before


def test_an_idempotent_retry_returns_the_first_answer_and_records_nothing(ledger: Ledger) -> None:
    subject_id = make_subject(ledger)
    retry = Context("staff-1", at=T0, idempotency=Idempotency("ticket-1", "body-a"))
    first = ledger.open_ticket(
        channel="window", requester_id=subject_id, description="x", received_at=T0, ctx=retry
    )
    length = ledger.log_length()
    again = ledger.open_ticket(
        channel="window", requester_id=subject_id, description="x", received_at=T0, ctx=retry
    )
    assert again == first
    assert ledger.log_length() == length
    other_body = Context("staff-1", at=T0, idempotency=Idempotency("ticket-1", "body-b"))
    with pytest.raises(IdempotencyConflictError):
        ledger.open_ticket(
            channel="phone",
            requester_id=subject_id,
            description="y",
            received_at=T0,
            ctx=other_body,
        )
    assert ledger.log_length() == length


def test_ticket_numbers_count_up_per_day(ledger: Ledger) -> None:
    subject_id = make_subject(ledger)
    numbers = [
        ledger.open_ticket(
            channel="email",
            requester_id=subject_id,
            description="x",
            received_at=T0 + n * timedelta(minutes=1),
            ctx=ctx(T0),
        )["number"]
        for n in range(3)
    ]
    assert numbers == ["GD20261102-00001", "GD20261102-00002", "GD20261102-00003"]


def test_the_service_will_not_open_with_a_wrong_key(store: Store) -> None:
    ledger = store.open()
    make_subject(ledger)
    ledger.close()
    from crypto.keyring import new_keyring

    with pytest.raises(ConfigurationError, match="cannot read event"):
        store.open(keyring=new_keyring())


def test_the_service_will_not_open_without_its_key_file(tmp_path: Path) -> None:
    from taizhang.bootstrap import open_ledger
    from taizhang.settings import Settings

    with pytest.raises(ConfigurationError, match="no key file"):
        open_ledger(Settings(data_dir=tmp_path))


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    from taizhang.bootstrap import initialise, open_ledger
    from taizhang.settings import Settings

    settings = Settings(data_dir=tmp_path)
    initialise(settings)
    os.chmod(settings.key_file, 0o644)
    with pytest.raises(ConfigurationError, match="readable by other users"):
        open_ledger(settings)


def test_authentication_finds_the_bootstrap_lead_and_refuses_others(store: Store) -> None:
    ledger = store.open()
    user = ledger.authenticate(store.token)
    assert isinstance(user, User)
    assert user.role == "project_lead"
    from domain.errors import AuthenticationError

    with pytest.raises(AuthenticationError):
        ledger.authenticate(store.token + "x")
    ledger.close()
