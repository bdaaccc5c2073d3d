"""The product page's variant picker: one control group per option (size buttons, colour
swatches) instead of one radio button per combination, resolving to one variant.

Works without JavaScript: the option radios are posted (option1, option2, …) and
AddToCartForm finds the variant they name; a link with ?variant=<id> chooses one. With
JavaScript (static/js/product.js) the price, availability, the add-to-cart button and the
notify-me form follow the choice at once, from the variants' data in a json_script element.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from catalog.models import Product, ProductVariant
from inventory.selectors import LOW_STOCK_BADGE_UNITS
from kernel.money import format_money

# At this many units or fewer a "deny" variant (a product, on its card) shows "Only N left".
LOW_STOCK_UNITS = LOW_STOCK_BADGE_UNITS
MAX_OPTIONS = 3
_COLOUR_NAME = re.compile(r"colou?r", re.IGNORECASE)


@dataclass
class OptionValue:
    value: str
    checked: bool = False
    # Sold out (or no such variant) together with the other options as chosen now.
    unavailable: bool = False

    @property
    def swatch(self) -> str:
        """The value as a CSS class suffix ("Forest green" → "forest-green") for the swatch
        palette in shop.css; unknown colours get a neutral dot, the name is always shown."""
        return re.sub(r"[^a-z0-9]+", "-", self.value.lower()).strip("-")


@dataclass
class OptionGroup:
    index: int  # 1-based, as option1_value…
    name: str
    values: list[OptionValue] = field(default_factory=list)

    @property
    def field_name(self) -> str:
        return f"option{self.index}"

    @property
    def is_colour(self) -> bool:
        return bool(_COLOUR_NAME.search(self.name))

    @property
    def chosen(self) -> str:
        return next((v.value for v in self.values if v.checked), "")


def variant_options(variant: ProductVariant, count: int) -> tuple[str, ...]:
    return tuple((variant.option1_value, variant.option2_value, variant.option3_value)[:count])


def option_count(product: Product, variants: list[ProductVariant]) -> int:
    """How many options pick a variant: 0 when there is only one variant, or when the
    options do not tell the variants apart (the page then lists the variants themselves)."""
    if len(variants) <= 1:
        return 0
    count = max(
        len(product.option_names),
        max((i + 1 for v in variants for i, x in enumerate(variant_options(v, MAX_OPTIONS)) if x), default=0),
    )
    combos = [variant_options(v, count) for v in variants]
    if count == 0 or len(set(combos)) != len(combos):
        return 0
    return count


def sellable(variant: ProductVariant) -> bool:
    return getattr(variant, "available", 1) > 0 or bool(getattr(variant, "backorder", False))


def default_variant(variants: list[ProductVariant], wanted: Any = None) -> ProductVariant | None:
    """The variant named by ?variant= when it is one of `variants`, else the first one that
    can be bought, else the first."""
    if wanted not in (None, ""):
        chosen = next((v for v in variants if str(v.pk) == str(wanted)), None)
        if chosen is not None:
            return chosen
    return next((v for v in variants if sellable(v)), variants[0] if variants else None)


def option_groups(
    product: Product, variants: list[ProductVariant], selected: ProductVariant | None
) -> list[OptionGroup]:
    """One group per option, its values in the order the variants list them, the selected
    variant's values checked; a value is marked unavailable when the variant it makes with
    the other selected values is sold out or does not exist."""
    count = option_count(product, variants)
    if not count or selected is None:
        return []
    names = product.option_names
    by_options = {variant_options(v, count): v for v in variants}
    chosen = variant_options(selected, count)
    groups = []
    for i in range(count):
        group = OptionGroup(index=i + 1, name=names[i] if i < len(names) else _("Option"))
        seen: list[str] = []
        for v in variants:
            value = variant_options(v, count)[i]
            if value not in seen:
                seen.append(value)
        for value in seen:
            combo = chosen[:i] + (value,) + chosen[i + 1 :]
            match = by_options.get(combo)
            group.values.append(
                OptionValue(value=value, checked=value == chosen[i], unavailable=match is None or not sellable(match))
            )
        groups.append(group)
    return groups


def availability_text(variant: ProductVariant) -> tuple[str, str]:
    """(status, words) as the page shows them: ("out", "Sold out"), ("low", "Only 3 left"), …"""
    available = getattr(variant, "available", 0)
    backorder = bool(getattr(variant, "backorder", False))
    if available <= 0:
        return ("backorder", _("Available on backorder")) if backorder else ("out", _("Sold out"))
    if available <= LOW_STOCK_UNITS and not backorder:
        return "low", ngettext("Only %(count)s left", "Only %(count)s left", available) % {"count": available}
    return "in", _("In stock")


def variants_data(variants: list[ProductVariant], count: int) -> list[dict[str, Any]]:
    """What product.js needs to follow a choice without asking the server: per variant its
    options, price and compare-at price as shown, and availability. Display only: adding to
    the cart checks stock again under the lock."""
    currency = settings.SHOP_CURRENCY
    data = []
    for v in variants:
        status, words = availability_text(v)
        data.append(
            {
                "id": v.pk,
                "title": v.title,
                "sku": v.sku,
                "options": list(variant_options(v, count)),
                "price": format_money(v.price, currency),
                "compare_at": format_money(v.compare_at_price, currency) if v.on_sale else None,
                "status": status,
                "availability": words,
                "notify_label": (
                    _("Email me when %(variant)s is back") % {"variant": v.title}
                    if v.title
                    else _("Email me when it's back")
                ),
                "sellable": sellable(v),
            }
        )
    return data
