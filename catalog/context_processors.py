from django.conf import settings


def shop(request):
    return {"SHOP_NAME": settings.SITE_NAME, "SHOP_CURRENCY": settings.SHOP_CURRENCY}
