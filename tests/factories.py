"""factory_boy factories for the tests. Stock goes through inventory.services so that the
ledger always adds up."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from catalog.models import Category, Product, ProductVariant
from checkout.models import ShippingMethod
from inventory.models import StockMovement
from inventory.services import stock_adjust


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    handle = factory.Sequence(lambda n: f"product-{n}")
    title = factory.Sequence(lambda n: f"Product {n}")
    description = "A fine product."
    vendor = "Acme"
    category = factory.SubFactory(CategoryFactory)
    published = True


class VariantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ProductVariant

    product = factory.SubFactory(ProductFactory)
    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    option1_value = "Default Title"
    price = Decimal("20.00")


def stocked_variant(on_hand: int = 10, **kwargs) -> ProductVariant:
    """A variant with `on_hand` units received through the ledger."""
    variant = VariantFactory(**kwargs)
    if on_hand:
        stock_adjust(variant=variant, quantity=on_hand, reason=StockMovement.Reason.RECEIPT)
    return variant


class ShippingMethodFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingMethod

    name = "Standard"
    price = Decimal("5.00")
