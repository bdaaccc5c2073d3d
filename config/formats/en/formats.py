"""English dates as the shop writes them: "6 December 2026", "6 December 2026, 14:05".

Django's own English formats ("Dec. 6, 2026, 2:05 p.m.") are American; the shop's pages,
emails and documents have always written the day first and a 24-hour clock. Used for en and
en-us (Django tries en_US, then en). Only Django's own format names belong here: a custom name
({{ value|date:"MY_FORMAT" }}) that a language's module lacks is printed as a format string,
letter by letter, and LANGUAGES may name a language without a module here.
"""

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
