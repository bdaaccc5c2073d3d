from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from pages.selectors import page_published


@require_safe
def page_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """A published content page; 404 for an unknown or unpublished one. Staff also see an
    unpublished page (marked as such), to check it before publishing."""
    page = page_published(slug, drafts=request.user.is_staff)
    if page is None:
        raise Http404
    return render(request, "pages/detail.html", {"page": page})
