"""The storefront (top layer, docs/ARCHITECTURE.md): every HTML page a shopper sees, with its
forms, URLs, template tags and context processors, per app in `storefront/<app>/`, and the
payment provider's return, callback and webhook endpoints. Views are thin: validate, call a
domain app's service or selector, turn its errors into a message or a 4xx. Nothing imports
it but config/urls.py (and Django, through settings)."""
