"""German text for a test without depending on the compiled catalog.

`german({"Captured": "Erfasst"})` puts those entries into the German translation for the
duration of a `with` block: a page or email that marks its text and reads it in the active
language shows the German; one that shows English it never passed through gettext (or passed
through it composed, so that the msgid is not the one marked) does not. Whether or not
locale/de/LC_MESSAGES/django.mo is compiled, and whatever it says, the test sees these.
Keys as gettext stores them: "msgid", "context\\x04msgid" for pgettext.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.utils.translation import trans_real

_MISSING = object()


@contextmanager
def german(entries: dict[str, str]) -> Iterator[None]:
    catalog = trans_real.translation("de")._catalog._catalogs[0]
    saved = {key: catalog.get(key, _MISSING) for key in entries}
    catalog.update(entries)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is _MISSING:
                catalog.pop(key, None)
            else:
                catalog[key] = value
