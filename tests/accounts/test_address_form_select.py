"""The address form's country and subdivision lists (accounts.forms.ListSelect) write the very
HTML Django's Select writes: the option chosen, the prompt, escaping and the language of the
names are unchanged by writing the options in Python."""

import pytest
from django import forms
from django.utils import translation
from django_countries import countries

from accounts.forms import AddressForm, ListSelect

pytestmark = pytest.mark.django_db

FORMS = [
    {"initial": {"country": "US"}},
    {"initial": {"country": "IN", "country_area": "Maharashtra"}},
    {"data": {"country": "US", "country_area": "IL"}},
    {"data": {"country": "JP", "country_area": 'x<&"'}},
    {"data": {"country": "ZZ"}},
    {"prefix": "billing", "data": {"billing-country": "CA", "billing-country_area": "QC"}},
]


def as_django_select(form: AddressForm, name: str) -> str:
    """The field rendered with Django's own Select (same attributes and choices)."""
    ours = form.fields[name].widget
    form.fields[name].widget = forms.Select(attrs=ours.attrs, choices=ours.choices)
    try:
        return str(form[name])
    finally:
        form.fields[name].widget = ours


@pytest.mark.parametrize("language", ["en", "de"])
@pytest.mark.parametrize("kwargs", FORMS)
def test_the_country_and_subdivision_lists_read_as_djangos_select_writes_them(language, kwargs):
    with translation.override(language):
        form = AddressForm(**kwargs)
        for name in ("country", "country_area"):
            assert isinstance(form.fields[name].widget, ListSelect)
            ours = str(form[name])
            assert ours == as_django_select(form, name)
            assert ours.count("<option") > 10


def test_only_the_first_option_of_a_value_is_selected_and_labels_are_escaped():
    widget = ListSelect(choices=[("", "Pick one"), ("a", "A & <b>"), ("a", "again"), (None, "none")])
    html = widget.render("x", "a")
    assert html.count(" selected") == 1
    assert '<option value="a" selected>A &amp; &lt;b&gt;</option>' in html
    assert '<option value="">none</option>' in html
    assert html == forms.Select(choices=widget.choices).render("x", "a")


def test_grouped_choices_are_written_by_djangos_template():
    grouped = [("Europe", [("DE", "Germany"), ("FR", "France")]), ("US", "United States")]
    assert ListSelect(choices=grouped).render("x", "FR") == forms.Select(choices=grouped).render("x", "FR")


@pytest.mark.parametrize(("language", "germany"), [("en", "Germany"), ("de", "Deutschland"), ("en", "Germany")])
def test_the_countries_are_named_and_ordered_in_the_language_of_each_form(language, germany):
    with translation.override(language):
        choices = list(AddressForm().fields["country"].choices)
        assert choices == [(code, str(name)) for code, name in countries]
        assert ("DE", germany) in choices
        assert f'<option value="DE">{germany}</option>' in str(AddressForm()["country"])
