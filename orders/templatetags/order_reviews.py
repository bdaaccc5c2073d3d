"""The review form on the product page. Catalog's page cannot ask orders who bought what
(catalog knows nobody), so its template asks through this tag: {% review_form product %}."""
from django import template

from ..forms import ReviewForm
from ..selectors import review_eligibility

register = template.Library()


@register.inclusion_tag("orders/_review_form.html", takes_context=True)
def review_form(context, product):
    """The form for a signed-in buyer who has not reviewed the product yet, else a line
    saying why there is none. One query for a signed-in shopper, none for a guest."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"product": product, "signed_in": False}
    return {
        "product": product,
        "signed_in": True,
        "eligibility": review_eligibility(user=user, product=product),
        # Its own ids: the product page's add-to-cart form already has id_quantity & co.
        "form": ReviewForm(auto_id="review_%s"),
    }
