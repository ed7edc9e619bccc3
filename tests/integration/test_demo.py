"""The demo workload: realistic variety, and every step accepted by the domain's rules."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta

from domain.calendar import SHANGHAI
from domain.ledger import Ledger
from domain.sla import SlaState
from taizhang.demo import Workload, run_demo
from tests.conftest import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=SHANGHAI)


def test_many_tickets_follow_every_rule_and_cover_every_value(ledger: Ledger) -> None:
    workload = Workload(ledger, random.Random(11), scale=0.1, now=NOW)
    fresh: list = []
    start = datetime(2026, 9, 1, 9, 0, tzinfo=SHANGHAI)
    tickets = [
        workload.ticket(f"GD-{n}", start + timedelta(hours=n % 200), fresh) for n in range(800)
    ]
    classified = [t.classification for t in tickets if t.classification]
    for axis, values in {
        "nature": 3,
        "urgency": 4,
        "business_type": 3,
        "complexity": 3,
    }.items():
        assert len({c[axis] for c in classified}) == values
    assert {t.channel for t in tickets} == {"phone", "email", "online", "window"}
    assert any(len(t.assignments) > 1 for t in tickets)  # reassigned, complex ones included
    assert any(t.pauses for t in tickets)
    states = Counter(ledger.sla.state(t, NOW) for t in tickets)
    assert states[SlaState.BREACHED] > 0
    assert states[SlaState.MET] > states[SlaState.BREACHED]
    scores = {c["satisfaction"] for t in tickets for c in t.callbacks}
    assert scores == {1, 2, 3, 4, 5}


def test_the_demo_saves_a_month_on_either_store(store: Store) -> None:
    ledger = store.open()
    before = ledger.log_length()
    stats = run_demo(ledger, days=30, seed=2, scale=0.01, start=date(2026, 6, 1))
    assert stats.cases > stats.tickets > 0
    assert ledger.log_length() - before == stats.events
    ledger.close()
