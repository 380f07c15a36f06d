"""The embedded stack's SMTP server: every message it accepts is stored whole as an .eml file, across restarts."""

import email
import email.policy
import smtplib
import uuid
from email.message import EmailMessage

import pytest

from exchange.dev.stack import Stack


def send(port: int, to: str, subject: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@dev.example.vn", to, subject
    message.set_content("Xin chào")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def stored(stack: Stack, to: str) -> list[EmailMessage]:
    found = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in stack.smtp.messages()]
    return [m for m in found if m["To"] == to]  # type: ignore[misc]


def test_a_message_is_stored_as_eml_and_the_server_comes_back_on_its_port(stack: Stack) -> None:
    to = f"{uuid.uuid4().hex[:8]}@dev.example.vn"
    send(stack.smtp.port, to, "Thử")
    (message,) = stored(stack, to)
    assert message["Subject"] == "Thử" and message.get_content().strip() == "Xin chào"
    assert stack.smtp.mail_dir == stack.data_dir / "mail"

    port = stack.smtp.port
    stack.smtp.stop()
    try:
        with pytest.raises(OSError):
            send(port, to, "while down")
    finally:
        stack.smtp.start()
    assert stack.smtp.port == port
    send(port, to, "again")
    assert [m["Subject"] for m in stored(stack, to)] == ["Thử", "again"]
