"""Signals inventory sends to the rest of the shop."""
from django.dispatch import Signal

# Sent after the commit of every write that changes what a variant shows as available
# (reserve, release, adjustment, receipt, expiry sweep, backorder policy; not a sale, which
# turns held units into sold ones), with `variant_ids`, a frozenset of ProductVariant primary
# keys, and `sold_out_changed`, whether one of them may have gone from sellable to sold out or
# back. The catalog page cache listens.
availability_changed = Signal()
