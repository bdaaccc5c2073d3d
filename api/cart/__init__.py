"""The cart API (DRF): /api/v1/cart/…"""
