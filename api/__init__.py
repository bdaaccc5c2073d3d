"""The REST API for mobile clients, /api/v1/ (top layer, docs/ARCHITECTURE.md): the error
shape and its mapping of domain errors (errors.py), the page shape (pagination.py),
throttling, the URL root (urls.py), and per app its serializers, views and URLs
(`api/<app>/`). It calls the domain apps' services and selectors; nothing imports it but
config/urls.py."""
