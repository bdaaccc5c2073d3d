"""The shop's own date formats per language (FORMAT_MODULE_PATH, config/settings/base.py).

Django reads a format here first and falls back to its own (django/conf/locale/<lang>/formats.py)
for anything not named, so these modules hold only what the shop writes differently: dates as
people in Britain and Germany write them, the day before the month, a 24-hour clock.
Templates name the format ({{ value|date:"DATE_FORMAT" }}), Python code calls
django.utils.formats.date_format(value, "DATETIME_FORMAT"): the active language picks the
module. https://docs.djangoproject.com/en/5.2/topics/i18n/formatting/#creating-custom-format-files
"""
