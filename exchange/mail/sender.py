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


def permanent(exc: smtplib.SMTPException) -> bool:
    """Whether the server's refusal is final (a 5xx reply) rather than a temporary one (4xx)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


class Session:
    """One SMTP connection reused for the messages of one sending round (blocking: call it from a thread)."""

    def __init__(self, target: SmtpTarget, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if self.target.security == "tls":
            smtp = smtplib.SMTP_SSL(self.target.host, self.target.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.target.host, self.target.port, timeout=self.timeout)
        try:
            if self.target.security == "starttls":
                smtp.starttls(context=context)
            if self.target.username:
                smtp.login(self.target.username, self.target.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        """Hand one message over, connecting (again) when needed."""
        if self._smtp is not None:
            try:
                self._smtp.send_message(message)
                return
            except smtplib.SMTPServerDisconnected:
                self._smtp = None  # the server closed an idle connection: one fresh try below
        self._smtp = self._connect()
        self._smtp.send_message(message)

    def close(self) -> None:
        """Say goodbye; a connection that is gone already is fine."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


async def send_due(pool: asyncpg.Pool, settings: Settings, limit: int = 200) -> int:
    """Send queued messages that are due, one at a time over one connection; stop at the first failure (the server is
    likely away)."""
    target = parse_smtp_url(settings.smtp_url)
    lease = max(60.0, 3 * settings.smtp_timeout)
    session = Session(target, settings.smtp_timeout)
    sent = 0
    try:
        while sent < limit:
            async with pool.acquire() as conn:
                mail = await repo.claim(conn, lease)
            if mail is None:
                return sent
            try:
                await asyncio.to_thread(session.send, compose(mail, settings.mail_from))
            except (OSError, smtplib.SMTPException) as exc:
                if isinstance(exc, smtplib.SMTPException) and permanent(exc):
                    # Refused for good (5xx): trying again would be refused again; the other messages go on.
                    log.warning("the SMTP server refused mail %s for good: %r", mail.id, exc)
                    async with pool.acquire() as conn:
                        await repo.failed(conn, mail.id, repr(exc)[:500], 0.0, True)
                    await asyncio.to_thread(session.close)
                    continue
                given_up = mail.attempts >= MAX_ATTEMPTS
                log.warning("could not send mail %s (attempt %d): %r", mail.id, mail.attempts, exc)
                async with pool.acquire() as conn:
                    await repo.failed(conn, mail.id, repr(exc)[:500], backoff_seconds(mail.attempts), given_up)
                return sent
            async with pool.acquire() as conn:
                await repo.sent(conn, mail.id)
            sent += 1
        return sent
    finally:
        await asyncio.to_thread(session.close)
