"""Development: DEBUG on, console email, a throwaway secret key unless one is set."""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "local-development-only-not-secret")
os.environ.setdefault("DJANGO_DEBUG", "true")

from .base import *  # noqa: F403
from .base import env

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# Links in emails: SHOP_BASE_URL when set; else the address `make run` serves on (bin/run
# exports it as SHOP_RUN_URL, from HOST and PORT); else http://localhost:8000.
SHOP_BASE_URL = env("SHOP_BASE_URL", default="") or env("SHOP_RUN_URL", default="http://localhost:8000")
