"""Which webhook addresses the exchange refuses to call."""

import ipaddress

import pytest

from matching.notify import pinned
from matching.webhook_targets import TargetRefused, check, is_public


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.8",
        "172.31.255.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::5",
        "::ffff:10.0.0.1",
        "::ffff:127.0.0.1",
    ],
)
def test_inside_addresses_are_not_public(address):
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_internet_addresses_are_public(address):
    assert is_public(ipaddress.ip_address(address))


async def test_public_https_literals_pass_and_development_allows_anything():
    assert await check("https://93.184.216.34:8443/hook", allow_private=False) == [
        ipaddress.ip_address("93.184.216.34")
    ]
    assert await check("http://127.0.0.1:9000/hook", allow_private=True) == []


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://hooks.example.com:abc/h", "not a valid URL"),
        ("https://[::1/h", "not a valid URL"),
        ("https://hooks.example.com:99999/h", "port outside"),
        ("http://127.0.0.1:0/h", "port outside"),
    ],
)
async def test_a_url_that_cannot_be_sent_to_is_refused_not_raised(url, reason, allow_private):
    with pytest.raises(TargetRefused, match=reason):
        await check(url, allow_private=allow_private)


@pytest.mark.parametrize(
    ("url", "address", "sent_to", "host", "tls_name"),
    [
        (
            "https://hooks.example.com/in?x=1",
            "93.184.216.34",
            "https://93.184.216.34/in?x=1",
            "hooks.example.com",
            "hooks.example.com",
        ),
        (
            "https://hooks.example.com:8443/in",
            "2606:4700::1",
            "https://[2606:4700::1]:8443/in",
            "hooks.example.com:8443",
            "hooks.example.com",
        ),
        ("https://bücher.example/h", "1.1.1.1", "https://1.1.1.1/h", "xn--bcher-kva.example", "xn--bcher-kva.example"),
        (
            "https://u:p@hooks.example.com/h",
            "1.1.1.1",
            "https://u:p@1.1.1.1/h",
            "hooks.example.com",
            "hooks.example.com",
        ),
    ],
)
def test_a_pinned_webhook_keeps_its_host_name_for_http_and_tls(url, address, sent_to, host, tls_name):
    target, host_header, extensions = pinned(url, ipaddress.ip_address(address))
    assert (str(target), host_header, extensions) == (sent_to, host, {"sni_hostname": tls_name})


@pytest.mark.parametrize(
    "url", ["http://93.184.216.34/hook", "https://127.0.0.1/hook", "https://[::1]:8443/x", "https://localhost/hook"]
)
async def test_plain_http_and_inside_targets_are_refused(url):
    with pytest.raises(TargetRefused):
        await check(url, allow_private=False)
