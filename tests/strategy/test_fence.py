"""Fenced sends (issue: "A frozen owner sends after losing its lease"): the lease fence on the
monotonic clock, send deadlines, the deadline sent to the venue, and never-placed only after it."""

from __future__ import annotations

from decimal import Decimal as D

from freezegun import freeze_time

from exchanges import clock
from exchanges.models import OrderRequest, Side
from state.records import IntentStatus
from strategies.execution.fence import CLOCK_SKEW_MARGIN_MS, SEND_WINDOW_MS, LeaseFence
from strategies.execution.journal import Journal
from strategies.execution.orders import OrderManager, SendOutcome

from .conftest import GS, SYM, set_books

T0 = "2026-01-01 00:00:00"


class Ctx:
    next_seq = 1


def manager(fakes, fence: LeaseFence) -> OrderManager:
    return OrderManager(journal=Journal("abcdef012345", Ctx()), venues=fakes, symbol=SYM, fence=fence,
                        order_timeout_s=5, on_fill=lambda rec: D(0), report_error=lambda text: None)


def committed_intent(om: OrderManager):
    intent = om.plan(GS, Side.BUY, D("100"), D("0.05"), "test")
    om.journal.committed(om.journal.pending())
    return intent


def test_fence_refuses_until_confirmed_and_after_ttl_minus_margin():
    with freeze_time(T0) as ft:
        fence = LeaseFence(ttl_s=5.0, margin_s=1.5)
        assert "not confirmed" in fence.refusal()
        fence.confirm(clock.monotonic_s())
        assert fence.refusal() is None and abs(fence.valid_for_s() - 3.5) < 1e-6
        ft.tick(3.4)
        assert fence.refusal() is None
        ft.tick(0.2)
        assert "not confirmed for 3.6 s" in fence.refusal()
        fence.confirm(clock.monotonic_s() - 10)  # an older heartbeat never moves the proof back
        assert fence.refusal() is not None
        fence.confirm(clock.monotonic_s())
        fence.lose()
        assert "lease lost" in fence.refusal()


async def test_a_frozen_owner_never_sends_after_its_lease_could_be_taken(fakes):
    """The freeze happens between the commit of the intent and its send: on waking up the
    process finds its last confirmed heartbeat too old and refuses, before any byte leaves."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        fence = LeaseFence(ttl_s=5.0)
        fence.confirm(clock.monotonic_s())
        om = manager(fakes, fence)
        intent = committed_intent(om)
        ft.tick(6.5)  # SIGSTOP for 6.5 s: another process may own the task now
        set_books(fakes)
        assert await om.send(intent) is SendOutcome.REFUSED
    assert fakes[GS].place_calls == []
    assert intent.status is IntentStatus.NOT_SENT and intent.error.startswith("fenced: lease not confirmed")


async def test_send_deadline_is_enforced_locally_and_sent_to_the_venue(fakes):
    seen: list[OrderRequest] = []
    inner = fakes[GS].place_order

    async def spy(request):
        seen.append(request)
        return await inner(request)

    fakes[GS].place_order = spy
    with freeze_time(T0) as ft:
        set_books(fakes)
        fence = LeaseFence(ttl_s=5.0)
        om = manager(fakes, fence)
        fence.confirm(clock.monotonic_s())
        first = committed_intent(om)
        assert first.send_deadline_ms == first.created_ms + SEND_WINDOW_MS
        assert await om.send(first) is SendOutcome.SENT
        # the venue must refuse it at the deadline, or earlier when the lease proof runs out first
        assert seen[0].expires_ms == min(first.send_deadline_ms, clock.now_ms() + 3500)
        late = committed_intent(om)
        ft.tick(SEND_WINDOW_MS / 1000 + 0.1)
        fence.confirm(clock.monotonic_s())
        set_books(fakes)
        assert await om.send(late) is SendOutcome.REFUSED
    assert late.status is IntentStatus.NOT_SENT and "send deadline passed" in late.error
    assert [r.client_order_id for r in seen] == [first.client_order_id]


async def test_a_request_delayed_past_its_deadline_is_refused_by_the_venue(fakes):
    """Frozen after the fence check, inside the connector: the venue itself refuses it."""
    inner = fakes[GS].place_order
    with freeze_time(T0) as ft:

        async def frozen_then_send(request):
            ft.tick(SEND_WINDOW_MS / 1000 + 1)
            return await inner(request)

        fakes[GS].place_order = frozen_then_send
        set_books(fakes)
        fence = LeaseFence(ttl_s=5.0)
        fence.confirm(clock.monotonic_s())
        om = manager(fakes, fence)
        intent = committed_intent(om)
        assert await om.send(intent) is SendOutcome.REJECTED
    assert fakes[GS].expired_requests == [intent.client_order_id]
    assert intent.client_order_id not in fakes[GS].orders and intent.status is IntentStatus.REJECTED


async def test_new_owner_declares_never_placed_only_after_the_deadline(fakes):
    """A NEW intent of a previous owner, unknown to the venue: before its send deadline (plus the
    clock-skew margin) a request of the frozen owner may still arrive, so it stays NEW."""
    with freeze_time(T0) as ft:
        set_books(fakes)
        om = manager(fakes, LeaseFence())
        intent = committed_intent(om)
        om2 = manager(fakes, LeaseFence())  # the new owner, after loading the journal
        om2.journal.intents[intent.client_order_id] = intent
        om2.journal.open_intent_ids[intent.client_order_id] = None
        ft.tick((SEND_WINDOW_MS + CLOCK_SKEW_MARGIN_MS) / 1000 - 0.5)
        assert not await om2.settle_pass(cancel_all=False)
        assert intent.status is IntentStatus.NEW
        ft.tick(1)
        assert await om2.settle_pass(cancel_all=False)
    assert intent.status is IntentStatus.NOT_SENT and "after its send deadline" in intent.error
