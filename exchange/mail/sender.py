"""The SMTP sender: claims queued mail with a lease, sends it with no transaction open, then records the outcome."""

import asyncio
import email.policy
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

import asyncpg

from exchange.kernel.settings import Settings
from exchange.mail import repo
from exchange.mail.repo import QueuedMail

log = logging.getLogger("exchange.mail")

# After this many failed tries (about a day with the backoff below) a message is given up.
MAX_ATTEMPTS = 40
MAX_BACKOFF_SECONDS = 1800.0
_TRUE = {"1", "true", "yes", "on"}
# Headers folded only past RFC 5322's line limit: at the default 78 a long List-Unsubscribe URL would be written as
# encoded words, which no mail client reads as a link.
HEADER_POLICY = email.policy.SMTP.clone(max_line_length=998)


class SmtpUrlError(ValueError):
    """SMTP_URL cannot be understood."""


@dataclass(frozen=True)
class SmtpTarget:
    """Where and how to hand mail over: host, port, TLS mode and credentials."""

    host: str
    port: int
    security: str  # plain | starttls | tls
    username: str | None = None
    password: str | None = None


def parse_smtp_url(url: str) -> SmtpTarget:
    """smtp://[user:pass@]host[:port][?starttls=1], smtp+starttls://..., or smtps://... (TLS from the start)."""
    parts = urlsplit(url)
    schemes = {"smtp": ("plain", 25), "smtp+starttls": ("starttls", 587), "smtps": ("tls", 465)}
    if parts.scheme not in schemes or not parts.hostname:
        raise SmtpUrlError("SMTP_URL must look like smtp://user:pass@host:port (or smtp+starttls://, smtps://)")
    security, default_port = schemes[parts.scheme]
    query = parse_qs(parts.query)
    if security == "plain" and query.get("starttls", [""])[0].lower() in _TRUE:
        security, default_port = "starttls", 587
    try:
        port = parts.port or default_port
    except ValueError:
        raise SmtpUrlError("SMTP_URL has an invalid port") from None
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def backoff_seconds(attempts: int) -> float:
    """Delay before the next try of a message that failed `attempts` times."""
    return min(MAX_BACKOFF_SECONDS, 2.0 * 2 ** max(attempts - 1, 0))


def compose(mail: QueuedMail, sender: str) -> EmailMessage:
    """The message as it goes out: text and HTML alternatives, RFC 8058 one-click unsubscribe headers."""
    message = EmailMessage(policy=HEADER_POLICY)
    name, address = parseaddr(sender)
    message["From"] = formataddr((name, address))
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    # The same id on every try: a receiver can tell a resend after a lost answer from a new message.
    message["Message-ID"] = f"<{mail.id}@{address.rpartition('@')[2] or 'techmart'}>"
    message["Auto-Submitted"] = "auto-generated"
    message["List-Unsubscribe"] = f"<{mail.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Techmart-Kind"] = mail.kind
    # Quoted-printable: 7-bit safe through any relay, whether or not it takes 8BITMIME.
    message.set_content(mail.body_text, cte="quoted-printable")
    message.add_alternative(mail.body_html, subtype="html", cte="quoted-printable")
    # After the parts: setting the content drops every Content-* header set before.
    message["Content-Language"] = mail.language
    return message


def deliver(target: SmtpTarget, message: EmailMessage, timeout: float) -> None:
    """Hand one message to the SMTP server (blocking: run it in a thread)."""
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if target.security == "tls":
        smtp = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(target.host, target.port, timeout=timeout)
    with smtp:
        if target.security == "starttls":
            smtp.starttls(context=context)
        if target.username:
            smtp.login(target.username, target.password or "")
        smtp.send_message(message)


async def send_due(pool: asyncpg.Pool, settings: Settings, limit: int = 50) -> int:
    """Send queued messages that are due, one at a time; stop at the first failure (the server is likely away)."""
    target = parse_smtp_url(settings.smtp_url)
    lease = max(60.0, 3 * settings.smtp_timeout)
    sent = 0
    while sent < limit:
        async with pool.acquire() as conn:
            mail = await repo.claim(conn, lease)
        if mail is None:
            return sent
        try:
            await asyncio.to_thread(deliver, target, compose(mail, settings.mail_from), settings.smtp_timeout)
        except (OSError, smtplib.SMTPException) as exc:
            given_up = mail.attempts >= MAX_ATTEMPTS
            log.warning("could not send mail %s (attempt %d): %r", mail.id, mail.attempts, exc)
            async with pool.acquire() as conn:
                await repo.failed(conn, mail.id, repr(exc)[:500], backoff_seconds(mail.attempts), given_up)
            return sent
        async with pool.acquire() as conn:
            await repo.sent(conn, mail.id)
        sent += 1
    return sent
