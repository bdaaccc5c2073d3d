"""The REST API's shared pieces: the error shape and the domain-error table (errors.py), the
page shape (pagination.py), throttling, and the /api/v1/ URL root (urls.py), which includes
each app's `<app>/api/urls.py`."""
