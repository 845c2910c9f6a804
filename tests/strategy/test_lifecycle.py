"""The order-intent lifecycle table, edge by edge: every declared (status, event) move is applied
by ``OrderManager.apply`` and nothing else; every undeclared one is refused, counted and leaves
the intent untouched; venue activity on an intent declared never placed is an anomaly."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.models import Order, OrderStatus, Side
from state.records import IntentStatus, OrderIntent
from strategies.execution.journal import Journal
from strategies.execution.lifecycle import INTENT_TRANSITIONS, IntentEvent, mermaid, next_status
from strategies.execution.orders import OrderManager
from tests.fences import HeldFence

from .conftest import GS, SYM

ALL_PAIRS = [(s, e) for s in IntentStatus for e in IntentEvent]
DECLARED = sorted(INTENT_TRANSITIONS, key=lambda k: (k[0].value, k[1].value))
UNDECLARED = [p for p in ALL_PAIRS if p not in INTENT_TRANSITIONS]


class Ctx:
    next_seq = 1


def manager(fakes) -> OrderManager:
    journal = Journal("abcdef012345", Ctx())
    return OrderManager(journal=journal, venues=fakes, symbol=SYM, fence=HeldFence(), order_timeout_s=5,
                        on_fill=lambda rec: D(0), report_error=lambda text: None)


def intent_in(om: OrderManager, status: IntentStatus) -> OrderIntent:
    intent = om.plan(GS, Side.BUY, D("10"), D("0.05"), "test")
    intent.status = status  # the test sets the starting status directly
    return intent


def test_every_final_status_is_final_in_the_table():
    for (src, _event), dst in INTENT_TRANSITIONS.items():
        if src.is_final:
            assert dst is src, f"a final status moved: {src} -> {dst}"


def test_new_can_reach_every_status_and_unknown_is_only_settled_by_the_venue():
    reachable = {dst for (src, _e), dst in INTENT_TRANSITIONS.items() if src is IntentStatus.NEW}
    assert reachable == set(IntentStatus) - {IntentStatus.NEW}
    # an unknown outcome never becomes "refused locally": something may have left the process
    assert next_status(IntentStatus.UNKNOWN, IntentEvent.SEND_REFUSED) is None


@pytest.mark.parametrize(("src", "event"), DECLARED, ids=lambda x: getattr(x, "value", x))
def test_declared_move_is_applied(fakes, src, event):
    om = manager(fakes)
    intent = intent_in(om, src)
    assert om.apply(intent, event, error="why")
    assert intent.status is INTENT_TRANSITIONS[(src, event)]
    assert om.refused_moves == 0 and not om.anomalies


@pytest.mark.parametrize(("src", "event"), UNDECLARED, ids=lambda x: getattr(x, "value", x))
def test_undeclared_move_is_refused_and_counted(fakes, src, event):
    om = manager(fakes)
    intent = intent_in(om, src)
    before = intent.status
    assert not om.apply(intent, event, order=None, error="should not stick")
    assert intent.status is before and intent.error == ""
    assert om.refused_moves == 1


def test_venue_fill_on_an_intent_declared_never_placed_is_an_anomaly(fakes):
    om = manager(fakes)
    intent = intent_in(om, IntentStatus.NOT_SENT)
    report = Order(GS, intent.client_order_id, SYM, Side.BUY, D("10"), D("0.05"), OrderStatus.FILLED,
                   filled_qty=D("10"), avg_price=D("0.05"))
    assert not om.apply_report(intent, report)
    assert intent.status is IntentStatus.NOT_SENT and intent.filled_qty == 0
    assert len(om.anomalies) == 1 and "declared not_sent" in om.anomalies[0].text


def test_stale_open_report_after_filled_keeps_filled_and_never_lowers_the_fill(fakes):
    om = manager(fakes)
    intent = intent_in(om, IntentStatus.NEW)
    filled = Order(GS, intent.client_order_id, SYM, Side.BUY, D("10"), D("0.05"), OrderStatus.FILLED,
                   filled_qty=D("10"), avg_price=D("0.049"), venue_order_id="7")
    assert om.apply_report(intent, filled)
    stale = Order(GS, intent.client_order_id, SYM, Side.BUY, D("10"), D("0.05"), OrderStatus.OPEN,
                  filled_qty=D("0"), venue_order_id="7")
    assert om.apply_report(intent, stale)
    assert intent.status is IntentStatus.FILLED and intent.filled_qty == D("10") and intent.avg_price == D("0.049")
    assert om.refused_moves == 0


def test_apply_queues_the_change_for_the_next_commit(fakes):
    om = manager(fakes)
    intent = intent_in(om, IntentStatus.NEW)
    om.journal.committed(om.journal.pending())  # as if the intent was committed
    assert not om.journal.has_pending()
    om.apply(intent, IntentEvent.ACCEPTED)
    writes = om.journal.pending()
    assert [i.client_order_id for i in writes.intent_updates] == [intent.client_order_id]


def test_mermaid_lists_every_moving_edge():
    text = mermaid()
    assert text.startswith("stateDiagram-v2\n    [*] --> new\n")
    for (src, event), dst in INTENT_TRANSITIONS.items():
        line = f"    {src.value} --> {dst.value}: {event.value}"
        assert (line in text) == (src is not dst), line
    assert "    filled --> [*]" in text and "    not_sent --> [*]" in text


def test_tasks_graph_orders_prints_the_lifecycle(capsys):
    from taskmanager.cli import main

    assert main(["tasks", "graph", "--orders"]) == 0
    assert capsys.readouterr().out == mermaid()


async def test_fill_or_kill_intent_is_sent_as_fok_and_a_withdrawn_second_leg_ends_not_sent(fakes):
    """Sequential arb legs: the first leg's FOK reaches the venue as FOK (nothing partial), and a
    second leg withdrawn after a miss takes the declared new --send_refused--> not_sent move."""
    from exchanges.models import TimeInForce

    fakes[GS].set_book("0.04999", "50", "0.05000", "50")  # 50 shown, 100 wanted: the FOK kills it
    om = manager(fakes)
    first = om.plan(GS, Side.BUY, D("100"), D("0.05"), "arb_buy", tif=TimeInForce.FOK)
    second = om.plan(GS, Side.SELL, D("100"), D("0.04999"), "arb_sell")
    om.journal.committed(om.journal.pending())
    await om.send(first)
    assert fakes[GS].orders[first.client_order_id].tif is TimeInForce.FOK
    assert first.status is IntentStatus.CANCELED and first.filled_qty == 0
    om.withdraw(second, "not sent: first leg missed")
    assert second.status is IntentStatus.NOT_SENT and second.error == "not sent: first leg missed"
    assert not om.is_sendable(second.client_order_id) and om.refused_moves == 0
    assert second.client_order_id not in fakes[GS].place_calls
