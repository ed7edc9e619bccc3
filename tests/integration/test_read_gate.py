"""The read gate on SQLite and PostgreSQL: recorded and committed first, decrypted after.

A *witness* sealer wraps the real one: each time the gate asks it to unseal,
it counts the access records that a separate database connection can see.
Another connection sees only committed rows, so a count that already includes
this attempt proves the record was committed before anything was decrypted.
The failure tests break the real store under a running app (an exclusive lock
on SQLite, a revoked INSERT privilege on PostgreSQL): never a mock.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import sqlite3
import statistics
import textwrap
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from api.app import create_app
from crypto.store_cipher import KEYRING_SETTING
from domain.access_record import RECORDED_TOPIC
from domain.calendar import WorkingCalendar
from domain.errors import (
    AccessRefusedError,
    AuthenticationError,
    InvalidInputError,
    PermissionDeniedError,
    PersonalDataDestroyedError,
)
from domain.ledger import Context, FieldSealer, Ledger, LedgerServices
from projections.catalog import open_catalog
from projections.database import ViewDatabase
from replay.append_only import grant_app_role
from replay.leaf_log import unpack_positions
from replay.records import POSTGRES_EVENTS, SQLITE_EVENTS
from taizhang.bootstrap import (
    install_sealer,
    master_keyring,
    open_ledger,
    storage_env,
    store_keyring,
)
from taizhang.settings import Settings
from tests.conftest import Store
from tests.e2e.support import Clock, TestClient, resident_id

NAME, MOBILE = "欧阳修远", "13912345678"
ID_NUMBER = resident_id("37010219800101123")
H = timedelta(hours=1)


class WitnessSealer(FieldSealer):
    """The real sealer, plus a look at the committed log each time something is unsealed."""

    def __init__(self, inner: FieldSealer, committed_records: Any) -> None:
        self.inner = inner
        self.committed_records = committed_records
        self.seen: list[int] = []

    def seal(self, subject_id: UUID, fields: Mapping[str, str]) -> dict[str, str]:
        return self.inner.seal(subject_id, fields)

    def seal_new(self, subjects: Any) -> list[dict[str, str]]:
        return self.inner.seal_new(subjects)

    def unseal(self, subject_id: UUID, sealed: Mapping[str, str]) -> dict[str, str]:
        self.seen.append(self.committed_records())
        return self.inner.unseal(subject_id, sealed)

    def fingerprint(self, message: bytes) -> str:
        return self.inner.fingerprint(message)

    def destroy(self, subject_id: UUID) -> None:
        self.inner.destroy(subject_id)

    def is_destroyed(self, subject_id: UUID) -> bool:
        return self.inner.is_destroyed(subject_id)


def committed_records(store: Store) -> int:
    """Access records visible to a separate connection (committed ones only)."""
    table = SQLITE_EVENTS if store.kind == "sqlite" else POSTGRES_EVENTS
    mark = "?" if store.kind == "sqlite" else "%s"
    rows = store.sql(f"SELECT count(*) FROM {table} WHERE topic = {mark}", (RECORDED_TOPIC,))
    return int(rows[0][0])  # type: ignore[arg-type]


@dataclasses.dataclass
class Gate:
    ledger: Ledger
    witness: WitnessSealer
    clock: Clock
    lead: str
    store: Store

    def user(self, role: str, name: str = "员工") -> str:
        return str(self.ledger.add_user(name=name, role=role, ctx=self.as_(self.lead))["id"])

    def as_(self, actor: str) -> Context:
        return Context(actor=actor)

    def reveal(self, actor: str, subject_id: str, fields: list[str], **kwargs: Any) -> Any:
        self.witness.seen.clear()
        return self.ledger.reveal(
            subject_id, fields, "核实身份", request_id=uuid4().hex, client="203.0.113.9",
            ctx=self.as_(actor), **kwargs,
        )

    def records(self) -> list[Any]:
        return [
            self.ledger.mapper.to_domain_event(n)
            for n in self.ledger.recorder.select_notifications(
                start=1, limit=100_000, topics=[RECORDED_TOPIC]
            )
        ]


@pytest.fixture
def gate(store: Store) -> Iterator[Gate]:
    clock = Clock()
    ledger = store.open(clock=clock)
    witness = WitnessSealer(ledger.services.sealer, lambda: committed_records(store))
    ledger.services.sealer = witness
    lead = str(ledger.authenticate(store.token).id)
    yield Gate(ledger, witness, clock, lead, store)
    ledger.close()


def register(gate: Gate) -> str:
    receipt = gate.ledger.register_subject(
        kind="person", name=NAME, id_number=ID_NUMBER, mobile=MOBILE, ctx=gate.as_(gate.lead)
    )
    return str(receipt["id"])


def test_a_reveal_is_committed_to_the_log_before_anything_is_decrypted(gate: Gate) -> None:
    subject = register(gate)
    before = committed_records(gate.store)

    answer = gate.reveal(gate.lead, subject, ["name", "id_number"])

    assert answer["fields"] == {"name": NAME, "id_number": ID_NUMBER}
    assert answer["basis"] == "project_lead"
    assert gate.witness.seen == [before + 1]  # the record was committed at the moment of unseal
    record = gate.records()[-1]
    assert str(record.originator_id) == answer["access_record_id"]
    assert (record.outcome, record.reason, record.fields) == ("granted", "project_lead",
                                                              ["name", "id_number"])
    assert (record.subject_id, record.client) == (subject, "203.0.113.9")
    assert record.purpose == "核实身份"
    # Its Merkle leaf was written in the same transaction as the event.
    db = ViewDatabase(gate.ledger)
    with db.transaction(commit=False) as cur:
        cur.execute("SELECT positions FROM {schema}merkle_leaves")
        positions = [p for row in cur.fetchall() for p in unpack_positions(bytes(row["positions"]))]
    assert answer["access_position"] in positions


def test_a_refused_attempt_is_recorded_and_nothing_is_decrypted(gate: Gate) -> None:
    subject = register(gate)
    handler, analyst = gate.user("ticket_handler"), gate.user("analyst")

    with pytest.raises(AccessRefusedError) as refused:
        gate.reveal(handler, subject, ["mobile"])
    assert refused.value.reason == "no_basis"
    with pytest.raises(PermissionDeniedError, match=r"analyst may not subject\.reveal"):
        gate.reveal(analyst, subject, ["mobile"])

    assert gate.witness.seen == []
    last_two = gate.records()[-2:]
    assert [(r.actor, r.outcome, r.reason) for r in last_two] == [
        (handler, "refused", "no_basis"), (analyst, "refused", "role")
    ]


def test_the_handler_of_a_ticket_reads_its_requester_and_nobody_elses(gate: Gate) -> None:
    subject, other = register(gate), register(gate)
    handler, colleague = gate.user("ticket_handler"), gate.user("ticket_handler")
    ticket = gate.ledger.open_ticket(
        channel="phone", requester_id=subject, description="咨询", ctx=gate.as_(gate.lead)
    )["id"]
    gate.ledger.change_ticket(ticket, gate.as_(gate.lead), lambda t, at: t.classify(
        nature="consultation", urgency="general", business_type="employment",
        complexity="medium", at=at, by=gate.lead))
    gate.ledger.change_ticket(ticket, gate.as_(gate.lead), lambda t, at: t.assign(
        assignee=handler, team=[colleague], at=at, by=gate.lead))

    assert gate.reveal(handler, subject, ["mobile"], item_id=ticket)["basis"] == "assignee"
    assert gate.reveal(colleague, subject, ["name"], item_id=ticket)["basis"] == "team"
    with pytest.raises(AccessRefusedError) as elsewhere:
        gate.reveal(handler, other, ["mobile"], item_id=ticket)
    assert elsewhere.value.reason == "item_other_subject"
    stranger = gate.user("ticket_handler")
    with pytest.raises(AccessRefusedError) as not_theirs:
        gate.reveal(stranger, subject, ["mobile"], item_id=ticket)
    assert not_theirs.value.reason == "not_assigned"


def test_a_grant_opens_its_fields_until_it_expires_or_is_revoked(gate: Gate) -> None:
    subject = register(gate)
    supervisor = gate.user("quality_supervisor")
    apply = gate.ledger.apply_for_grant(
        subject_id=subject, fields=["mobile"], purpose="回访核实",
        valid_until=gate.clock.now + 2 * H, ctx=gate.as_(supervisor),
    )
    grant = apply["id"]
    with pytest.raises(AccessRefusedError, match="not approved"):
        gate.reveal(supervisor, subject, ["mobile"], grant_id=grant)
    gate.ledger.decide_grant(grant, "approve", None, gate.as_(gate.lead))

    assert gate.reveal(supervisor, subject, ["mobile"], grant_id=grant)["fields"] == {
        "mobile": MOBILE
    }
    with pytest.raises(AccessRefusedError) as wider:
        gate.reveal(supervisor, subject, ["mobile", "id_number"], grant_id=grant)
    assert wider.value.reason == "grant_fields"
    gate.clock.advance(hours=2)
    with pytest.raises(AccessRefusedError) as expired:
        gate.reveal(supervisor, subject, ["mobile"], grant_id=grant)
    assert expired.value.reason == "grant_expired"
    assert gate.ledger.user(supervisor).grant_ids == [grant]


def test_a_destroyed_subject_answers_gone_and_the_attempt_is_recorded(gate: Gate) -> None:
    subject = register(gate)
    second_lead = gate.user("project_lead")
    request = gate.ledger.request_destruction(subject, "保存期限届满", gate.as_(gate.lead))
    gate.ledger.approve_destruction(request["id"], gate.as_(second_lead))

    with pytest.raises(PersonalDataDestroyedError):
        gate.reveal(gate.lead, subject, ["name"])
    assert gate.witness.seen == []
    assert (gate.records()[-1].outcome, gate.records()[-1].reason) == (
        "refused", "subject_destroyed"
    )


def test_reading_the_access_history_is_itself_recorded_first(gate: Gate) -> None:
    subject = register(gate)
    gate.reveal(gate.lead, subject, ["name"])
    officer = gate.user("confidentiality_officer")
    history = gate.ledger.access_history(
        subject_id=subject, request_id="r-1", client=None, ctx=gate.as_(officer)
    )
    assert [(i["target"], i["actor"]) for i in history["items"]] == [
        ("subject", gate.lead), ("access_history", officer)
    ]
    assert history["items"][-1]["position"] == history["access_position"]
    assert history["items"][-1]["query"] == {"subject_id": subject, "actor": None}
    handler = gate.user("ticket_handler")
    with pytest.raises(PermissionDeniedError):
        gate.ledger.access_history(actor=officer, request_id="r-2", client=None,
                                   ctx=gate.as_(handler))
    assert (gate.records()[-1].actor, gate.records()[-1].outcome) == (handler, "refused")


def test_a_read_of_the_access_log_served_elsewhere_is_recorded_like_the_history(
    gate: Gate,
) -> None:
    subject = register(gate)
    officer, analyst = gate.user("confidentiality_officer"), gate.user("analyst")
    ledger = gate.ledger
    before = ledger.log_length()
    receipt = ledger.record_access_log_read(
        subject_id=subject, actor=officer, purpose="季度审查", request_id="r-3",
        client="203.0.113.9", ctx=gate.as_(officer),
    )
    # Committed when it returns, one event, and nothing read: no items, only the record.
    assert receipt == {"access_record_id": receipt["access_record_id"],
                       "access_position": before + 1, "request_id": "r-3"}
    assert ledger.log_length() == before + 1
    recorded = gate.records()[-1]
    assert str(recorded.originator_id) == receipt["access_record_id"]
    ledger.access_history(subject_id=subject, actor=officer, purpose="季度审查",
                          request_id="r-3", client="203.0.113.9", ctx=gate.as_(officer))
    history = gate.records()[-1]
    same = ("actor", "role", "target", "target_id", "subject_id", "fields", "purpose", "level",
            "grant_id", "item_id", "request_id", "client", "outcome", "reason", "query")
    assert {k: getattr(recorded, k) for k in same} == {k: getattr(history, k) for k in same}
    assert (recorded.target, recorded.outcome, recorded.query) == (
        "access_history", "granted", {"subject_id": subject, "actor": officer})

    with pytest.raises(PermissionDeniedError, match=r"analyst may not access_log\.read"):
        ledger.record_access_log_read(request_id="r-4", client=None, ctx=gate.as_(analyst))
    refused = gate.records()[-1]
    assert (refused.actor, refused.role, refused.outcome, refused.reason, refused.request_id) == (
        analyst, "analyst", "refused", "role", "r-4")
    assert ledger.log_length() == before + 3


def test_assigning_through_the_ledger_names_only_active_staff_who_may_do_the_work(
    gate: Gate,
) -> None:
    ledger, lead = gate.ledger, gate.lead
    handler, specialist = gate.user("ticket_handler"), gate.user("service_specialist")
    subject = register(gate)
    ticket = ledger.open_ticket(channel="phone", requester_id=subject, description="咨询",
                                ctx=gate.as_(lead))["id"]
    ledger.change_ticket(ticket, gate.as_(lead), lambda t, at: t.classify(
        nature="consultation", urgency="general", business_type="employment",
        complexity="simple", at=at, by=lead))
    case = ledger.open_case(service_type="policy_consultation", subject_id=subject,
                            materials=[], ctx=gate.as_(lead))["id"]
    before = ledger.log_length()
    for wrong, field in (({"assignee": specialist}, "assignee"),
                         ({"assignee": handler, "team": [lead, "h2"]}, "team[1]")):
        with pytest.raises(InvalidInputError) as refused:
            ledger.assign_ticket(ticket, **wrong, ctx=gate.as_(lead))  # type: ignore[arg-type]
        assert refused.value.field == field
    with pytest.raises(InvalidInputError) as refused:
        ledger.assign_case(case, assignee=handler, reason="转交", ctx=gate.as_(lead))
    assert refused.value.field == "assignee"
    assert ledger.log_length() == before
    ledger.assign_ticket(ticket, assignee=handler, team=[lead], ctx=gate.as_(lead))
    ledger.assign_case(case, assignee=specialist, reason="转交", ctx=gate.as_(lead))
    assert (ledger.ticket(ticket).assignee, ledger.ticket(ticket).team) == (handler, [lead])
    assert ledger.case(case).assignee == specialist


def test_deactivation_takes_the_leaver_off_open_ticket_teams_in_one_transaction(
    store: Store,
) -> None:
    ledger = store.open(clock=Clock())
    lead = str(ledger.authenticate(store.token).id)
    ctx = Context(lead)
    assignee, leaver = (ledger.add_user(name=n, role="ticket_handler", ctx=ctx)["id"]
                        for n in ("负责人", "离职者"))
    subject = register_with(ledger, lead)
    ticket = ledger.open_ticket(channel="phone", requester_id=subject, description="咨询",
                                ctx=ctx)["id"]
    ledger.change_ticket(ticket, ctx, lambda t, at: t.classify(
        nature="consultation", urgency="general", business_type="employment",
        complexity="complex", at=at, by=lead))
    ledger.assign_ticket(ticket, assignee=assignee, team=[leaver, lead], ctx=ctx)
    before = ledger.log_length()

    done = ledger.deactivate_user(leaver, work=open_catalog(ledger), ctx=ctx)

    assert done["work"] == []
    assert done["teams_left"] == [{"kind": "ticket", "id": ticket,
                                   "number": ledger.ticket(ticket).number,
                                   "assignee": assignee, "team": [lead]}]
    assert ledger.log_length() - before == 3  # User.Deactivated, Credential.Revoked, the team
    assert (ledger.ticket(ticket).assignee, ledger.ticket(ticket).team) == (assignee, [lead])
    db = ViewDatabase(ledger)
    with db.transaction(commit=False) as cur:
        cur.execute("SELECT positions FROM {schema}merkle_leaves "
                    "ORDER BY first_index DESC LIMIT 1")
        last = cur.fetchone()
    assert last is not None
    assert unpack_positions(bytes(last["positions"])) == list(range(before + 1, before + 4))
    ledger.close()


def test_deactivation_is_one_transaction_revoking_tokens_and_grants_and_moving_work(
    store: Store,
) -> None:
    clock = Clock()
    ledger = store.open(clock=clock)
    lead = str(ledger.authenticate(store.token).id)
    ctx = Context(lead)
    leaver = ledger.add_user(name="离职者", role="ticket_handler", ctx=ctx)
    heir = ledger.add_user(name="接手者", role="ticket_handler", ctx=ctx)
    subject = register_with(ledger, lead)
    ticket = ledger.open_ticket(channel="phone", requester_id=subject, description="咨询",
                                ctx=ctx)["id"]
    ledger.change_ticket(ticket, ctx, lambda t, at: t.classify(
        nature="consultation", urgency="general", business_type="employment",
        complexity="simple", at=at, by=lead))
    ledger.change_ticket(ticket, ctx, lambda t, at: t.assign(assignee=leaver["id"], at=at,
                                                             by=lead))
    grant = ledger.apply_for_grant(subject_id=subject, fields=["name"], purpose="核实",
                                   valid_until=clock.now + H, ctx=Context(leaver["id"]))
    before = ledger.log_length()

    done = ledger.deactivate_user(leaver["id"], reassign_to=heir["id"],
                                  work=open_catalog(ledger), ctx=ctx)

    assert done["credentials_revoked"] == 1
    assert done["grants_revoked"] == [grant["id"]]
    assert done["work"] == [{"kind": "ticket", "id": ticket, "number": done["work"][0]["number"],
                             "assignee": heir["id"]}]
    grown = ledger.log_length() - before
    assert grown == 4  # User.Deactivated, Credential.Revoked, Grant.Revoked, Ticket.Assigned
    db = ViewDatabase(ledger)
    with db.transaction(commit=False) as cur:
        cur.execute("SELECT leaf_count, positions FROM {schema}merkle_leaves "
                    "ORDER BY first_index DESC LIMIT 1")
        last = cur.fetchone()
    assert last is not None  # the leaf log keeps one row per insert transaction
    assert unpack_positions(bytes(last["positions"])) == list(range(before + 1, before + 5))
    with pytest.raises(AuthenticationError):
        ledger.authenticate(leaver["token"])
    assert ledger.ticket(ticket).assignee == heir["id"]
    ledger.close()


def register_with(ledger: Ledger, lead: str) -> str:
    return str(ledger.register_subject(kind="person", name=NAME, id_number=ID_NUMBER,
                                       mobile=MOBILE, ctx=Context(lead))["id"])


def test_a_wrong_token_costs_what_a_right_one_does(store: Store) -> None:
    ledger = store.open()
    wrong = "tz_" + "x" * 43

    def cost(token: str) -> float:
        began = time.perf_counter()
        with suppress(AuthenticationError):
            ledger.authenticate(token)
        return time.perf_counter() - began

    for _ in range(50):  # warm the caches and the connection pool
        cost(store.token)
        cost(wrong)
    right_costs, wrong_costs = [], []
    for _ in range(400):  # interleaved, so drift in the machine's load hits both alike
        right_costs.append(cost(store.token))
        wrong_costs.append(cost(wrong))
    ratio = statistics.median(wrong_costs) / statistics.median(right_costs)
    ledger.close()
    assert 1 / 3 < ratio < 3, f"median wrong/right = {ratio:.2f}"


def test_authentication_has_no_early_exit_by_construction() -> None:
    """One decision at the end: a single raise and a single return, digests compared in full."""
    source = textwrap.dedent(inspect.getsource(Ledger.authenticate))
    body = ast.parse(source).body[0]
    raises = [n for n in ast.walk(body) if isinstance(n, ast.Raise)]
    returns = [n for n in ast.walk(body) if isinstance(n, ast.Return)]
    assert (len(raises), len(returns)) == (1, 1)
    assert isinstance(body, ast.FunctionDef)
    assert returns[0] is body.body[-1]  # the return is the last statement
    assert "compare_digest" in source
    assert not any(isinstance(n, ast.Compare) and any(isinstance(op, ast.Eq) for op in n.ops)
                   for n in ast.walk(body))  # no == on secrets


# -- the store fails under a running app ------------------------------------------------------
def open_with_short_lock_timeout(settings: Settings, seconds: int) -> Ledger:
    """``open_ledger``, but SQLite gives up waiting for a write lock after ``seconds``."""
    env = storage_env(settings)
    env["SQLITE_LOCK_TIMEOUT"] = str(seconds)
    env[KEYRING_SETTING] = store_keyring(settings).to_json()
    ledger = Ledger(env, LedgerServices(calendar=WorkingCalendar()))
    install_sealer(ledger, master_keyring(settings))
    return ledger


@contextmanager
def app_client(settings: Settings, ledger: Ledger, token: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings, ledger),
                    headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def assert_unavailable_without_data(answer: Any) -> None:
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "audit_unavailable"
    for secret in (NAME, MOBILE, ID_NUMBER, "欧阳"):
        assert secret not in answer.text


def reveal_over_http(client: TestClient, subject: str) -> Any:
    return client.post(f"/subjects/{subject}/reveal",
                       json={"fields": ["name", "mobile", "id_number"], "purpose": "核实"})


def test_sqlite_locked_by_another_writer_answers_503_and_no_data(tmp_path: Any) -> None:
    from taizhang.bootstrap import initialise

    settings = Settings(data_dir=tmp_path / "data")
    token = initialise(settings)["token"]
    ledger = open_with_short_lock_timeout(settings, 1)
    with app_client(settings, ledger, token) as client:
        subject = client.post("/subjects", json={
            "kind": "person", "name": NAME, "id_number": ID_NUMBER, "mobile": MOBILE,
        }).json()["id"]
        records_before = ledger.recorder.select_notifications(
            start=1, limit=10_000, topics=[RECORDED_TOPIC])
        locker = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            assert_unavailable_without_data(reveal_over_http(client, subject))
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        recovered = reveal_over_http(client, subject)
        assert recovered.status_code == 200, recovered.text
        assert recovered.json()["fields"]["name"] == NAME
        records_after = ledger.recorder.select_notifications(
            start=1, limit=10_000, topics=[RECORDED_TOPIC])
        assert len(records_after) == len(records_before) + 1  # only the answered one
    ledger.close()


@pytest.mark.postgres
def test_postgres_refusing_the_insert_answers_503_and_no_data(postgres_store: Store) -> None:
    store = postgres_store
    role = f"tz_app_{uuid4().hex[:8]}"
    owner = store.open()
    grant_app_role(ViewDatabase(owner), role)
    owner.close()
    as_app = dataclasses.replace(
        store.settings,
        database_url=f"postgresql://{role}@127.0.0.1:5432/test?schema={store.schema}",
    )
    events = f"{store.schema}.{POSTGRES_EVENTS}"
    try:
        ledger = open_ledger(as_app)
        with app_client(as_app, ledger, store.token) as client:
            subject = client.post("/subjects", json={
                "kind": "person", "name": NAME, "id_number": ID_NUMBER, "mobile": MOBILE,
            }).json()["id"]
            store.sql(f"REVOKE INSERT ON {events} FROM {role}")
            try:
                assert_unavailable_without_data(reveal_over_http(client, subject))
            finally:
                store.sql(f"GRANT INSERT ON {events} TO {role}")
            recovered = reveal_over_http(client, subject)
            assert recovered.status_code == 200, recovered.text
        ledger.close()
    finally:
        store.sql(f"DROP OWNED BY {role}")
        store.sql(f"DROP ROLE IF EXISTS {role}")


def test_every_access_event_round_trips_through_the_store(store: Store) -> None:
    clock = Clock()
    ledger = store.open(clock=clock)
    lead = str(ledger.authenticate(store.token).id)
    officer = str(ledger.add_user(name="保密员", role="confidentiality_officer",
                                  ctx=Context(lead))["id"])
    handler = str(ledger.add_user(name="专员", role="ticket_handler", ctx=Context(lead))["id"])
    subject = register_with(ledger, lead)
    ledger.set_buyer({"organisation": "济南高新区管委会", "address": "旧址"}, Context(lead))
    ledger.set_buyer({"address": "舜华路1号"}, Context(lead))
    ledger.record_access_review(level="high", period_start=clock.now - 7 * 24 * H,
                                period_end=clock.now, findings="无异常", ctx=Context(officer))
    grant = ledger.apply_for_grant(subject_id=subject, fields=["name"], purpose="核实",
                                   valid_until=clock.now + H, ctx=Context(handler))["id"]
    ledger.decide_grant(grant, "reject", "用途不明", Context(lead))
    ledger.change_role(handler, "service_specialist", Context(lead))
    ledger.close()

    reopened = store.open(clock=clock)
    buyer = reopened.reveal_buyer(["organisation", "address"], "月报", request_id="r-1",
                                  client=None, ctx=Context(lead))
    assert buyer["fields"] == {"organisation": "济南高新区管委会", "address": "舜华路1号"}
    assert reopened.grant(grant).status == "rejected"
    assert reopened.grant(grant).decision_reason == "用途不明"
    assert reopened.user(handler).role == "service_specialist"
    assert reopened.user(handler).grant_ids == [grant]
    high = reopened.access_review_status()[0]
    assert (high.level, high.last["by"], high.overdue) == ("high", officer, False)
    topics = {n.topic.split(":")[1]
              for n in reopened.recorder.select_notifications(start=1, limit=10_000)}
    assert {
        "AccessRecord.Recorded", "BuyerRecord.Set", "BuyerRecord.Updated",
        "AccessReviewLog.Started", "AccessReviewLog.Reviewed", "Grant.Applied",
        "Grant.Rejected", "User.GrantLinked", "User.RoleChanged",
    } <= topics
    reopened.close()
