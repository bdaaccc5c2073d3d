from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"

    def ready(self):
        # Missing or malformed keys of an enabled gateway stop the start-up with a clear
        # message instead of failing at the first shopper's payment.
        from .gateways import check_gateways

        check_gateways()
