"""
manage.py check_stock: proves the stock invariants for every variant, read-only.
"""

from django.core.management.base import BaseCommand, CommandError

from inventory.selectors import stock_audit


class Command(BaseCommand):
    help = (
        "Checks every variant's stock: on hand must equal the sum of its ledger rows and the "
        "newest ledger row's on_hand_after, and a variant that does not sell on backorder must "
        "not have more units reserved than on hand. Prints one line per problem, "
        '"SKU  stored=X  expected=Y  (reason)", and exits with status 1 if there is any. '
        "Changes nothing: investigate and correct through the admin's stock adjustments."
    )

    def handle(self, *args, **options):
        audit = stock_audit()
        for m in audit.mismatches:
            self.stdout.write(f"{m.sku}  stored={m.stored}  expected={m.expected}  ({m.reason})")
        if audit.mismatches:
            skus = {m.sku for m in audit.mismatches}
            raise CommandError(
                f"{len(audit.mismatches)} problem(s) in {len(skus)} of {audit.variants} variants.",
                returncode=1,
            )
        self.stdout.write(self.style.SUCCESS(f"All {audit.variants} variants consistent."))
