"""{% load seo_tags %}: what templates/base.html's <head> says to search engines and link
previews (storefront/seo). Each tag works without a request (the 500 and 503 pages are
rendered without one): it then says nothing, or uses settings.SHOP_BASE_URL."""

from __future__ import annotations

import html
from typing import Any

from django import template
from django.utils.html import conditional_escape, escape
from django.utils.safestring import SafeString, mark_safe

from catalog.models import Category
from storefront.seo import head
from storefront.seo.structured import breadcrumb_list, json_ld_script, listing_crumbs, website

register = template.Library()


class CaptureNode(template.Node):
    def __init__(self, nodelist: template.NodeList, name: str) -> None:
        self.nodelist = nodelist
        self.name = name

    def render(self, context: template.Context) -> str:
        context[self.name] = mark_safe(self.nodelist.render(context).strip())
        return ""


@register.tag
def capture(parser: template.base.Parser, token: template.base.Token) -> CaptureNode:
    """{% capture as name %}…{% endcapture %}: renders what it encloses (blocks included)
    once, into the variable `name`, so the <head> can say a page's title in <title> and in
    og:title. Already escaped, as any rendered template text."""
    bits = token.split_contents()
    if len(bits) != 3 or bits[1] != "as":
        raise template.TemplateSyntaxError("Usage: {% capture as name %}…{% endcapture %}")
    nodelist = parser.parse(("endcapture",))
    parser.delete_first_token()
    return CaptureNode(nodelist, bits[2])


@register.filter
def shop_title(value: str) -> SafeString:
    """The page's title (rendered HTML, as {% capture %} keeps it) with " – <shop>" after
    it unless it names the shop already (storefront.seo.head.shop_title); escaped HTML."""
    return mark_safe(escape(head.shop_title(html.unescape(conditional_escape(value)))))


@register.filter
def description_text(value: str) -> str:
    """A meta description: plain text, one line, at most DESCRIPTION_CHARS characters."""
    return head.summary(str(value))


@register.simple_tag(takes_context=True)
def absolute_url(context: template.Context, path: str) -> str:
    """{% absolute_url path %}: `path` on the host the page was asked on."""
    return head.absolute_url(context.get("request"), path) if path else ""


@register.simple_tag(takes_context=True)
def canonical_url(context: template.Context) -> str:
    """The page's own absolute URL without its query string; "" without a request."""
    request = context.get("request")
    return head.absolute_url(request, request.path) if request is not None else ""


@register.simple_tag(takes_context=True)
def listing_canonical_url(context: template.Context, category: Category | None) -> str:
    """The listing's canonical absolute URL: the category's listing (or all products) with
    ?page= kept from page 2 on; search, price, stock and sort filters dropped."""
    request = context.get("request")
    if request is None:
        return ""
    return head.absolute_url(request, head.listing_path(category.slug if category else "", head.page_number(request)))


@register.simple_tag(takes_context=True)
def noindex(context: template.Context) -> bool:
    """Whether this page is one search engines must not index (storefront.seo.head.noindex)."""
    return head.noindex(context.get("request"))


@register.simple_tag(takes_context=True)
def json_ld(context: template.Context, data: Any) -> SafeString:
    """{% json_ld data %}: <script type="application/ld+json"> with the response's CSP
    nonce (django-csp's request.csp_nonce), one per object of a list."""
    request = context.get("request")
    # str(): django-csp's nonce is lazy and falsy until read; reading it puts it in the header.
    nonce = str(request.csp_nonce) if hasattr(request, "csp_nonce") else ""
    items = data if isinstance(data, list) else [data]
    return mark_safe("".join(json_ld_script(item, nonce) for item in items))


@register.simple_tag(takes_context=True)
def listing_json_ld(context: template.Context, category: Category | None) -> SafeString:
    """The listing's BreadcrumbList (Home › All products › the category) as JSON-LD."""
    request = context.get("request")
    return json_ld(context, breadcrumb_list(request, listing_crumbs(category)))


@register.simple_tag(takes_context=True)
def website_json_ld(context: template.Context) -> SafeString:
    """The home page's WebSite (the shop's name, URL and search) as JSON-LD."""
    return json_ld(context, website(context.get("request")))
