"""Pure rules of mail: SMTP_URL forms, unsubscribe tokens, amounts and backoff."""

import time
import uuid

import pytest

from exchange.mail import messages, sender, tokens
from exchange.mail.sender import SmtpTarget, SmtpUrlError, parse_smtp_url

KEY = b"k" * 32
MEMBER = uuid.UUID("6f1c1c2e-9d4f-4c59-9a56-1b7d0f0e7a11")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", SmtpTarget("127.0.0.1", 2525, "plain")),
        ("smtp://mail.example.vn", SmtpTarget("mail.example.vn", 25, "plain")),
        (
            "smtp://user:p%40ss@mail.example.vn:587?starttls=1",
            SmtpTarget("mail.example.vn", 587, "starttls", "user", "p@ss"),
        ),
        ("smtp+starttls://u:p@mail.example.vn", SmtpTarget("mail.example.vn", 587, "starttls", "u", "p")),
        ("smtps://u:p@mail.example.vn", SmtpTarget("mail.example.vn", 465, "tls", "u", "p")),
        ("smtp://mail.example.vn:2525?starttls=0", SmtpTarget("mail.example.vn", 2525, "plain")),
    ],
)
def test_smtp_urls(url, expected):
    assert parse_smtp_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.vn", "smtp://", "mail.example.vn:25", "smtp://host:99999"])
def test_bad_smtp_urls_are_refused(url):
    with pytest.raises(SmtpUrlError):
        parse_smtp_url(url)


def test_a_token_names_its_member_and_topic_until_it_expires():
    now = time.time()
    token = tokens.sign(KEY, MEMBER, "invoices", now=now)
    found = tokens.verify(KEY, token, now=now + 59 * 86400)
    assert (found.member_id, found.topic) == (MEMBER, "invoices")
    with pytest.raises(tokens.BadToken, match="expired"):
        tokens.verify(KEY, token, now=now + 61 * 86400)


def test_a_token_changed_anywhere_or_signed_with_another_key_is_refused():
    token = tokens.sign(KEY, MEMBER, "deals")
    payload, mac = token.split(".")
    forged = tokens.sign(KEY, MEMBER, "matches").split(".")[0]
    for bad in (f"{forged}.{mac}", f"{payload}.{mac[::-1]}", f"{payload}x.{mac}", token + ".", "", "a.b"):
        with pytest.raises(tokens.BadToken):
            tokens.verify(KEY, bad)
    with pytest.raises(tokens.BadToken):
        tokens.verify(b"other" * 8, token)


def test_amounts_and_dates_follow_the_language():
    assert messages.money(1_500_000, "VND", "vi") == "1.500.000 VND"
    assert messages.money(1_500_000, "VND", "en") == "1,500,000 VND"
    assert messages.money(None, None, "en") == "—"


def test_backoff_doubles_up_to_its_cap():
    assert [sender.backoff_seconds(n) for n in (1, 2, 3)] == [2.0, 4.0, 8.0]
    assert sender.backoff_seconds(100) == sender.MAX_BACKOFF_SECONDS


def test_every_kind_renders_in_both_languages_with_the_unsubscribe_link():
    fields = {
        "title": "T <b>",
        "listing_kind": "offer",
        "org": "Org",
        "message": "m",
        "terms_version": 2,
        "reason": "r",
        "amount": "1 VND",
        "count": 1,
        "expires": "x",
        "bid_count": 3,
        "result": "r",
    }
    for kind in messages.TOPIC_OF:
        for language in ("vi", "en"):
            out = messages.render(messages.Content(kind=kind, fields=fields), language, "An", "https://u/x?token=t")
            assert "https://u/x?token=t" in out.text and "https://u/x?token=t" in out.html
            assert "\n" not in out.subject
            # Titles are people's text: escaped in HTML, as they are in the text part.
            assert "<b>" not in out.html


def test_only_5xx_refusals_are_final():
    import smtplib

    assert sender.permanent(smtplib.SMTPRecipientsRefused({"a@x.vn": (550, b"no such user")}))
    assert not sender.permanent(smtplib.SMTPRecipientsRefused({"a@x.vn": (451, b"try later")}))
    assert sender.permanent(smtplib.SMTPDataError(554, b"rejected"))
    assert not sender.permanent(smtplib.SMTPDataError(421, b"busy"))
    assert not sender.permanent(smtplib.SMTPServerDisconnected("gone"))
