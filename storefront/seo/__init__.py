"""What the shop tells search engines and link previews: the sitemap and robots.txt
(views.py, sitemaps.py), and what every page's <head> carries (head.py: canonical links,
descriptions, noindex; structured.py: JSON-LD). Standards only: the sitemap protocol
(sitemaps.org), robots.txt (RFC 9309), Open Graph (ogp.me), schema.org in JSON-LD."""
