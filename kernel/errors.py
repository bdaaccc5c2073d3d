"""The base of every app's domain errors.

A domain error says that the shop's rules or its current state refuse what was asked: not
enough stock, an order that cannot be cancelled any more, a voucher used up. Each app keeps
its own exceptions (inventory.exceptions, checkout.exceptions, the errors beside a service)
and each subclasses DomainError, so that a caller can tell them from bugs, and the API maps
them to an answer by their attributes alone (api/errors.py) without importing every app.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING


class DomainError(Exception):
    """A request the domain refuses.

    code         stable, for programs ("insufficient_stock"); a subclass sets its own.
    message      for people (the shopper, staff); set by the subclass, as an attribute or a
                 property.
    http_status  what the API answers for it: 400 when the request itself is short, 409 when
                 it conflicts with the current state, 502 when a payment provider refused or
                 could not be reached, …; a subclass inherits its parent's unless it sets one.
    """

    code: str = "domain_error"
    http_status: HTTPStatus = HTTPStatus.BAD_REQUEST

    if TYPE_CHECKING:
        # Read-only to the type checker, so that a subclass may provide it either way: as a
        # property, or as an attribute it declares (`message: str`) and sets in __init__.
        @property
        def message(self) -> str: ...
