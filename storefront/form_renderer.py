"""How `{{ form }}` and `{{ field.as_field_group }}` look on the shop's pages.

Django's TemplatesSetting renderer finds form templates through the project's TEMPLATES, so
the layouts live with the other templates (templates/forms/) and widgets keep Django's own
templates (django.forms is an installed app for that). Every field renders as
`<div class="field">` with its label, the control, help text (`.field__help`) and errors
(`.field__errors`, `.field--invalid` on the wrapper); Django sets aria-describedby and
aria-invalid on the control. The class names are the design system's (static/css/shop.css).
"""

from django.forms.renderers import TemplatesSetting


class FormRenderer(TemplatesSetting):
    form_template_name = "forms/form.html"
    field_template_name = "forms/field.html"
