"""The back office's pages and flows that span apps (top layer, docs/ARCHITECTURE.md): the
reports, the stock report, shipping, cancelling with a refund, refunds, and deleting a
customer or downloading their data. Each extends a domain app's own ModelAdmin (which knows
nothing above its app) by a subclass registered in its place (admin.py). Nothing imports it
but Django, through INSTALLED_APPS."""
