"""Every string a shopper reads in a template is marked for translation (issue 16).

Each template a shopper (or their mailbox) sees is read with Django's own template Lexer.
Text outside template tags is what the template prints as written: once HTML comments,
<script> and <style> bodies, tags, entities, digits, punctuation and whitespace are taken
out, any letter left is a string no translation can reach, and the test names it
(template:line and the text). The attributes people read (alt, title, placeholder,
aria-label, a submit or button input's value, a meta description's content) are checked the
same way. Text inside {% translate %}, {% blocktranslate %} (… {% plural %} …), {% comment %}
and {% verbatim %} is not printed as written (or not printed at all), so it passes, as does
anything a variable or a tag prints, and the blocks that hold data for machines
(MACHINE_BLOCKS: og_type, robots, canonical).

Left out (EXCLUDED): the admin's templates (staff; the Django admin is translated by Django
itself) and the staff's own emails (the low-stock alert and its subject).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.template.base import Lexer, TokenType

TEMPLATES = Path(settings.BASE_DIR) / "templates"

# Staff only: never shown to a shopper.
EXCLUDED = {
    "admin/",  # the Django admin's pages and our additions to them
    "emails/low_stock.html",  # to staff: variants running low
    "emails/low_stock.txt",
    "inventory/email/low_stock_subject.txt",
}

# Templates whose strings are still being marked (issue 16): each is checked like the others
# once it leaves this list. To be emptied, never added to. Empty since every shopper template
# was marked (issue 16, the first session's marking).
ALLOWLIST: set[str] = set()

# A template tag's or variable's output: no letters of the template's own.
PLACEHOLDER = "\x00"
# Blocks whose body is not printed as written: translated, commented out, or taken literally.
SKIPPED_BLOCKS = {"comment": "endcomment", "blocktranslate": "endblocktranslate", "blocktrans": "endblocktrans"}
VERBATIM = re.compile(r"^verbatim\b")
# base.html's blocks that hold data for machines (Open Graph's type, robots, the canonical
# URL), not words for people: a child's {% block og_type %}product{% endblock %} is skipped.
MACHINE_BLOCKS = {"og_type", "robots", "canonical"}

HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.S | re.I)
TAG = re.compile(r"<[a-zA-Z!/][^<>]*>", re.S)
ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
SHOWN_CONTENT = re.compile(r"""name=["'](description|twitter:title|twitter:description)["']""")
ATTRIBUTE = re.compile(r"""\b(alt|title|placeholder|aria-label|content|value)\s*=\s*("[^"]*"|'[^']*')""", re.I)
LETTER = re.compile(r"[^\W\d_]")
# Words handed to an include or a {% with %} under a name that says people read them
# ({% include "emails/_button.html" with label="Track" %}: label=_("Track") is translated),
# and yesno's words: a bare literal there is printed as written.
PEOPLE_ARGUMENT = re.compile(
    r"""\b(label|title|heading|text|message|placeholder|button|caption|help_text|description)=("[^"]*"|'[^']*')"""
)
YESNO = re.compile(r"""\|yesno:("[^"]*"|'[^']*')""")


def shopper_templates() -> list[str]:
    names = []
    for path in sorted(TEMPLATES.rglob("*")):
        if path.suffix not in (".html", ".txt") or not path.is_file():
            continue
        name = path.relative_to(TEMPLATES).as_posix()
        if not any(name == excluded or name.startswith(excluded) for excluded in EXCLUDED if excluded):
            names.append(name)
    return names


def printed_as_written(source: str) -> tuple[str, list[int]]:
    """The template's text with every tag's and variable's output replaced by PLACEHOLDER and
    every skipped block's body left out, and the line of each character."""
    chars: list[str] = []
    lines: list[int] = []
    closing: str | None = None  # the end tag of the skipped block we are in
    for token in Lexer(source).tokenize():
        if closing is not None:
            if token.token_type == TokenType.BLOCK and token.contents.split()[:1] == [closing]:
                closing = None
                chars.append(PLACEHOLDER)
                lines.append(token.lineno)
            continue
        if token.token_type == TokenType.BLOCK:
            command = token.contents.split()[0] if token.contents.split() else ""
            if command in SKIPPED_BLOCKS:
                closing = SKIPPED_BLOCKS[command]
            elif VERBATIM.match(token.contents):
                closing = "endverbatim"
            elif command == "block" and token.contents.split()[1:2] and token.contents.split()[1] in MACHINE_BLOCKS:
                closing = "endblock"
        if token.token_type == TokenType.TEXT:
            # The Lexer numbers a token by its first line; count the lines inside it.
            for offset, line in enumerate(token.contents.split("\n")):
                if offset:
                    chars.append("\n")
                    lines.append(token.lineno + offset)
                chars.extend(line)
                lines.extend([token.lineno + offset] * len(line))
        elif token.token_type != TokenType.COMMENT:
            chars.append(PLACEHOLDER)
            lines.append(token.lineno)
    return "".join(chars), lines


def literal_arguments(source: str) -> list[tuple[int, str]]:
    """(line, literal) for each word-bearing literal a tag or variable prints as written."""
    found = []
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK and token.contents.split()[:1] in (["include"], ["with"]):
            found += [(token.lineno, m.group(0)) for m in PEOPLE_ARGUMENT.finditer(token.contents)]
        if token.token_type in (TokenType.BLOCK, TokenType.VAR):
            found += [(token.lineno, m.group(0)) for m in YESNO.finditer(token.contents)]
    return [(line, literal) for line, literal in found if LETTER.search(literal.split("=", 1)[-1].split(":", 1)[-1])]


def _blank(text: str, pattern: re.Pattern[str]) -> str:
    """`text` with each match of `pattern` replaced by as many spaces (newlines kept), so that
    offsets, hence lines, stay where they were."""
    return pattern.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def has_words(text: str) -> bool:
    return bool(LETTER.search(ENTITY.sub(" ", text).replace(PLACEHOLDER, " ")))


def untranslated(name: str) -> list[str]:
    """'template:line: text' for each string of `name` printed as written."""
    source = (TEMPLATES / name).read_text(encoding="utf-8")
    text, lines = printed_as_written(source)
    text = _blank(text, HTML_COMMENT)
    text = _blank(text, SCRIPT_OR_STYLE)
    found = []
    for tag in TAG.finditer(text):
        for attribute in ATTRIBUTE.finditer(tag.group(0)):
            kind, value = attribute.group(1).lower(), attribute.group(2)[1:-1]
            if kind == "content" and not re.search(
                r"""name=["'](description|twitter:title|twitter:description)["']""", tag.group(0)
            ):
                continue
            # A button's value is sent, not shown; an input button shows its value.
            if kind == "value" and not re.match(r"""<input\b[^>]*\btype=["'](submit|button|reset)["']""", tag.group(0)):
                continue
            if has_words(value):
                line = lines[tag.start() + attribute.start()]
                found.append(f"{name}:{line}: {kind}={value.replace(PLACEHOLDER, '{…}')!r}")
    text = _blank(text, TAG)
    for match in re.finditer(r"[^\n]+", text):
        if has_words(match.group(0)):
            words = " ".join(match.group(0).replace(PLACEHOLDER, " {…} ").split())
            found.append(f"{name}:{lines[match.start()]}: {words}")
    found += [f"{name}:{line}: {literal}" for line, literal in literal_arguments(source)]
    return found


@pytest.mark.parametrize("name", shopper_templates())
def test_every_string_a_shopper_reads_is_translatable(name):
    if name in ALLOWLIST:
        pytest.skip("still being marked (ALLOWLIST)")
    assert untranslated(name) == []


def test_the_allowlist_names_only_templates_that_still_need_it():
    """A template whose strings are all marked leaves the ALLOWLIST, so it stays checked."""
    names = set(shopper_templates())
    assert names >= ALLOWLIST, f"not a shopper template: {sorted(ALLOWLIST - names)}"
    done = sorted(name for name in ALLOWLIST if not untranslated(name))
    assert done == [], f"all marked, take them off the ALLOWLIST: {done}"


def test_the_guard_finds_an_unmarked_string_text_and_attribute(tmp_path, monkeypatch):
    sample = (
        "{% load i18n %}{# a comment #}{% comment %}Not printed{% endcomment %}\n"
        '<a href="{% url \'cart:detail\' %}" title="{% translate \'Cart\' %}">{% translate "Cart" %}</a>\n'
        "{% blocktranslate count counter=n %}One item{% plural %}{{ counter }} items{% endblocktranslate %}\n"
        "<p>Free shipping</p><!-- Staff note -->\n"
        '<img src="x.png" alt="Logo"><input type="submit" value="{% translate \'Go\' %}">\n'
        "<style>body { color: red }</style><script>var word = 1;</script> &amp; © 2026 {{ shop_name }}\n"
        '<option value="a"{% if x %} selected{% endif %}>{{ label }}</option>\n'
        '{% include "b.html" with url=u label="Track it" %}'
        '{% include "b.html" with label=_("Fine") variant="primary" %}\n'
        "{% block og_type %}product{% endblock %}{{ paid|yesno:'yes,no' }}{{ level|default:'info' }}\n"
        '<input type="submit" value="Send"><meta name="description" content="Our shop"><meta charset="utf-8">\n'
    )
    monkeypatch.setattr("tests.test_translatable_templates.TEMPLATES", tmp_path)
    (tmp_path / "sample.html").write_text(sample, encoding="utf-8")
    assert sorted(untranslated("sample.html")) == sorted(
        [
            "sample.html:5: alt='Logo'",
            "sample.html:4: Free shipping",
            "sample.html:10: value='Send'",
            "sample.html:10: content='Our shop'",
            'sample.html:8: label="Track it"',
            "sample.html:9: |yesno:'yes,no'",
        ]
    )
