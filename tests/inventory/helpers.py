"""Shared test helpers: the stock invariants every scenario must leave intact, and a way to
release real threads (each with its own PostgreSQL connection) at the same instant."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from inventory.models import StockItem, StockMovement
from inventory.selectors import ledger_total


def on_hand(variant) -> int:
    return StockItem.objects.get(variant=variant).on_hand


def assert_stock_consistent() -> None:
    """For every variant: on_hand == Σ ledger rows and on_hand >= 0 (unless it sells on
    backorder); no ledger row without a StockItem; the last ledger row's on_hand_after is the
    current figure."""
    items = {item.variant_id: item.on_hand for item in StockItem.objects.all()}
    backorder = set(
        StockItem.objects.filter(backorder_policy=StockItem.BackorderPolicy.CONTINUE).values_list(
            "variant_id", flat=True
        )
    )
    for variant_id, figure in items.items():
        assert figure >= 0 or variant_id in backorder, f"variant {variant_id} has negative on_hand {figure}"
        assert figure == ledger_total(variant_id), (
            f"variant {variant_id}: on_hand {figure} != ledger {ledger_total(variant_id)}"
        )
        last = StockMovement.objects.filter(variant_id=variant_id).order_by("-pk").first()
        if last is not None:
            assert last.on_hand_after == figure
    ledger_variants = set(StockMovement.objects.values_list("variant_id", flat=True).distinct())
    assert ledger_variants <= set(items), "ledger rows for a variant without a StockItem"


@dataclass
class Outcome:
    value: Any = None
    error: BaseException | None = None


def run_together(count: int, work: Callable[[int], Any], *, timeout: float = 30) -> list[Outcome]:
    """Runs work(0) … work(count − 1) in `count` threads released together by a barrier.

    Each thread opens its own database connection before the barrier (so connecting does not
    spread the start out) and closes it at the end. Returns one Outcome per thread, in order.
    """
    barrier = threading.Barrier(count)
    outcomes = [Outcome() for _ in range(count)]

    def runner(index: int) -> None:
        try:
            connection.ensure_connection()
            barrier.wait(timeout=timeout)
            outcomes[index].value = work(index)
        except BaseException as exc:  # noqa: BLE001 - the test inspects every outcome
            outcomes[index].error = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcomes
