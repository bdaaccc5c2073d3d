"""An imported customer's invitation in a real browser, on a phone (390 px): the emailed link
opens "Welcome to <shop>", the chosen password signs them in on the account page, and the
link opens nothing afterwards. No page scrolls sideways; the console stays clean."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User

pytestmark = pytest.mark.browser

PASSWORD = "compiler of the first compiler 52"


def fits(page, width: int) -> None:
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= width, f"{page.url} is {scroll_width}px wide in a {width}px viewport"


def test_an_imported_customer_chooses_a_password_through_the_emailed_link(page, shot, mailoutbox, live_server):
    page.set_viewport_size({"width": 390, "height": 844})
    User.objects.create_user(
        email="grace.hopper@example.com", password=None, first_name="Grace", imported_at=timezone.now()
    )
    call_command("invite_customers", stdout=StringIO())  # commits: the eager task sends at once
    [message] = mailoutbox
    path = re.search(r"https?://\S+?(/accounts/welcome/\S+/)", message.body).group(1)

    page.goto(path)
    expect(page).to_have_title("Welcome to Small Shop: choose a password")
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome to Small Shop")
    expect(page.locator("form.card")).to_contain_text("grace.hopper@example.com")
    fits(page, 390)
    shot("choose-password")

    page.get_by_label("New password", exact=True).fill(PASSWORD)
    page.get_by_label("New password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Set password and log in").click()

    expect(page).to_have_url(re.compile(r"/accounts/$"))
    expect(page.get_by_role("status")).to_contain_text(
        "Your password is set and you are logged in. Welcome to Small Shop!"
    )
    fits(page, 390)
    shot("account")

    page.goto(path)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link no longer works")
    page.wait_for_load_state("networkidle")
    shot("link-used")
