"""Puts the back office's ModelAdmins in place of the domain apps' own: each subclass adds the
pages and flows that reach above its app. Importing each domain app's admin module first
registers its own ModelAdmin, whatever the order of INSTALLED_APPS."""

from django.conf import settings
from django.contrib import admin

from accounts.models import User
from catalog.models import Product, ProductVariant
from orders.models import Order
from payments.models import Payment

from .accounts import UserAdmin
from .catalog import ProductAdmin
from .inventory import ProductVariantAdmin
from .orders import OrderAdmin
from .payments import PaymentAdmin

for model, model_admin in (
    (User, UserAdmin),
    (Product, ProductAdmin),
    (ProductVariant, ProductVariantAdmin),
    (Order, OrderAdmin),
    (Payment, PaymentAdmin),
):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)

# The shop's name in every admin page's header and title, not "Django administration".
admin.site.site_header = settings.SITE_NAME
admin.site.site_title = f"{settings.SITE_NAME} back office"
admin.site.index_title = "Back office"
