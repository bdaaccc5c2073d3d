"""Content pages staff write in the admin (terms, privacy, shipping and returns, contact):
shown at /pages/<slug>/ (storefront.pages) and, when marked, listed in every page's footer."""
