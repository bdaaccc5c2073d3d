"""The client IP trusts X-Forwarded-For only from configured proxies (kernel/client_ip.py)."""

import pytest
from django.test import RequestFactory

from kernel.client_ip import client_ip


def _request(remote: str, forwarded: str | None = None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **meta)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request("198.51.100.9", "1.2.3.4")) == "198.51.100.9"


def test_a_header_from_an_untrusted_peer_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(_request("198.51.100.9", "1.2.3.4")) == "198.51.100.9"


def test_behind_a_trusted_proxy_the_right_most_address_is_the_client(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    assert client_ip(_request("10.0.0.1", "203.0.113.7")) == "203.0.113.7"


def test_a_spoofed_left_part_of_the_header_is_ignored(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    # The client sent "X-Forwarded-For: 1.1.1.1"; our proxy appended what it saw.
    assert client_ip(_request("10.0.0.1", "1.1.1.1, 203.0.113.7")) == "203.0.113.7"


def test_a_chain_of_trusted_proxies_is_skipped(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "192.168.1.5"]
    assert client_ip(_request("10.0.0.1", "9.9.9.9, 203.0.113.7, 192.168.1.5, 10.1.2.3")) == "203.0.113.7"


def test_garbage_in_the_header_stops_at_the_last_trusted_hop(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(_request("10.0.0.1", "evil, 10.0.0.2")) == "10.0.0.2"
    assert client_ip(_request("10.0.0.1", "")) == "10.0.0.1"
    assert client_ip(_request("10.0.0.1")) == "10.0.0.1"


@pytest.mark.parametrize(
    "entry, expected",
    [
        ("203.0.113.7:51234", "203.0.113.7"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:db8::2", "2001:db8::2"),
        ("::ffff:203.0.113.8", "203.0.113.8"),
    ],
)
def test_ports_and_ipv6_forms_are_understood(settings, entry, expected):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8", "fd00::/8"]
    assert client_ip(_request("fd00::1", entry)) == expected
