"""The checkout API (DRF): /api/v1/checkout/…"""
