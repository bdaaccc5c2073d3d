"""German dates as the shop writes them: "6. Dezember 2026", "6. Dezember 2026, 14:05".

The same names as config/formats/en/formats.py; Django's German formats differ only in the
comma before the time, which the shop writes in both languages.
"""

DATE_FORMAT = "j. F Y"
DATETIME_FORMAT = "j. F Y, H:i"
TIME_FORMAT = "H:i"
SHORT_DATE_FORMAT = "d.m.Y"
SHORT_DATETIME_FORMAT = "d.m.Y, H:i"
