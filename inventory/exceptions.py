"""Inventory's domain errors. User-facing wording lives in MESSAGES, in one place."""

from dataclasses import dataclass
from http import HTTPStatus

from django.utils.translation import gettext_lazy as _

from kernel.errors import DomainError

MESSAGES = {
    "insufficient_stock": _("Sorry, we don't have enough in stock: {details}."),
    "stock_busy": _("Many people are buying this right now. Please try again in a moment."),
    "reservation_expired": _("Your reservation has expired."),
    "variant_available": _("{variant} is available: you can order it now."),
    "backorders_outstanding": (
        _("{sku} cannot stop selling on backorder while {owed} unit(s) are owed to buyers; receive stock first.")
    ),
}


@dataclass(frozen=True)
class ShortLine:
    """One line that cannot be served: `requested` units wanted, `available` units left."""

    variant_id: int
    requested: int
    available: int
    sku: str = ""


class InventoryError(DomainError):
    # The stock is there or not, right now: the same request may work later.
    code = "inventory_error"
    http_status = HTTPStatus.CONFLICT


class InsufficientStock(InventoryError):
    """Raised when at least one line asks for more units than are available."""

    code = "insufficient_stock"

    def __init__(self, lines: list[ShortLine]):
        self.lines = lines
        super().__init__(self.message)

    @property
    def message(self) -> str:
        details = "; ".join(
            _("{item}: {available} left, {requested} wanted").format(
                item=line.sku or line.variant_id, available=line.available, requested=line.requested
            )
            for line in self.lines
        )
        return MESSAGES["insufficient_stock"].format(details=details)


class StockBusy(InventoryError):
    """Raised when the stock rows stay locked longer than STOCK_LOCK_TIMEOUT_MS."""

    code = "stock_busy"

    def __init__(self):
        super().__init__(str(MESSAGES["stock_busy"]))

    @property
    def message(self) -> str:
        return str(MESSAGES["stock_busy"])


class ReservationExpired(InventoryError):
    """Raised by stock_commit when the owner holds no live reservation any more."""

    code = "reservation_expired"

    def __init__(self, owner: str):
        self.owner = owner
        super().__init__(f"{MESSAGES['reservation_expired']} ({owner})")

    @property
    def message(self) -> str:
        return str(MESSAGES["reservation_expired"])


class VariantAvailable(InventoryError):
    """Raised when asking to be told about a variant that can be ordered right now."""

    code = "variant_available"

    def __init__(self, variant):
        self.variant = variant
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return MESSAGES["variant_available"].format(variant=self.variant)


class BackordersOutstanding(InventoryError):
    """Raised when switching a variant to the "deny" policy while its live reservations and
    sales exceed its stock (`owed` units): under "deny" on_hand must cover them."""

    code = "backorders_outstanding"

    def __init__(self, *, sku: str, owed: int):
        self.sku = sku
        self.owed = owed
        super().__init__(self.message)

    @property
    def message(self) -> str:
        return MESSAGES["backorders_outstanding"].format(sku=self.sku, owed=self.owed)
