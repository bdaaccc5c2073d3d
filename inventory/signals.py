"""Signals inventory sends to the rest of the shop."""
from django.dispatch import Signal

# Sent after the commit of every write that may change what a variant shows as available
# (reserve, release, sale, adjustment, receipt, expiry sweep, backorder policy), with
# `variant_ids`: a frozenset of ProductVariant primary keys. The catalog page cache listens.
availability_changed = Signal()
