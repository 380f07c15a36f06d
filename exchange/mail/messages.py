"""What each kind of mail says, in Vietnamese and English, rendered into a text and an HTML part."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jinja2

# Which settings topic each kind belongs to (what its unsubscribe link turns off).
TOPIC_OF = {
    "match": "matches",
    "digest": "matches",
    "interest_received": "interests",
    "interest_accepted": "interests",
    "interest_declined": "interests",
    "deal_terms_proposed": "deals",
    "deal_agreed": "deals",
    "deal_cancelled": "deals",
    "invoice_issued": "invoices",
    "invoice_paid": "invoices",
    "invoice_refunded": "invoices",
    "listing_expiring": "expiry",
    "auction_closed": "deals",
    "auction_cancelled": "deals",
}

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("exchange.mail", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
)

COMMON = {
    "vi": {
        "hello": "Xin chào",
        "why": "Bạn nhận thư này vì là thành viên của sàn giao dịch công nghệ Techmart.",
        "unsubscribe": "Ngừng nhận loại thư này",
        "settings": "Thay đổi cài đặt: PUT /v1/me/notifications/settings",
    },
    "en": {
        "hello": "Hello",
        "why": "You receive this email as a member of the Techmart technology exchange.",
        "unsubscribe": "Stop this kind of email",
        "settings": "Change your settings: PUT /v1/me/notifications/settings",
    },
}

KIND_WORD = {
    "vi": {"offer": "chào bán công nghệ", "demand": "nhu cầu công nghệ"},
    "en": {"offer": "offer", "demand": "demand"},
}

# Per kind and language: the subject and the opening lines, formatted with the message's fields.
TEXTS: dict[str, dict[str, tuple[str, list[str]]]] = {
    "match": {
        "vi": ("Kết quả phù hợp mới: {title}", ["Một {kind_word} mới phù hợp với đăng ký theo dõi của bạn."]),
        "en": ("New match: {title}", ["A new {kind_word} matches your subscription."]),
    },
    "digest": {
        "vi": ("Tổng hợp kết quả phù hợp ({count})", ["Các tin mới phù hợp với đăng ký theo dõi của bạn:"]),
        "en": ("Your daily matches ({count})", ["New listings that match your subscriptions:"]),
    },
    "interest_received": {
        "vi": (
            "{org} quan tâm đến {kind_word} “{title}”",
            ["{org} đã gửi lời quan tâm đến {kind_word} “{title}” của tổ chức bạn.", "Lời nhắn: {message}"],
        ),
        "en": (
            "{org} is interested in your {kind_word} “{title}”",
            ["{org} expressed interest in your organization's {kind_word} “{title}”.", "Their message: {message}"],
        ),
    },
    "interest_accepted": {
        "vi": (
            "Lời quan tâm của bạn đến “{title}” đã được chấp nhận",
            ["{org} đã chấp nhận lời quan tâm của tổ chức bạn. Thông tin liên hệ hiện có trong API."],
        ),
        "en": (
            "Your interest in “{title}” was accepted",
            ["{org} accepted your organization's interest. Their contact details are now shown in the API."],
        ),
    },
    "interest_declined": {
        "vi": ("Lời quan tâm của bạn đến “{title}” đã bị từ chối", ["{org} đã từ chối lời quan tâm của tổ chức bạn."]),
        "en": ("Your interest in “{title}” was declined", ["{org} declined your organization's interest."]),
    },
    "deal_terms_proposed": {
        "vi": (
            "Điều khoản mới cho giao dịch “{title}”",
            ["Điều khoản mới (phiên bản {terms_version}) đã được đề xuất. Bên mua và bên bán cần xác nhận."],
        ),
        "en": (
            "New terms proposed for the deal “{title}”",
            ["New terms (version {terms_version}) were proposed. Buyer and seller need to confirm them."],
        ),
    },
    "deal_agreed": {
        "vi": ("Giao dịch “{title}” đã được thống nhất", ["Bên mua và bên bán đã xác nhận cùng một điều khoản."]),
        "en": ("The deal “{title}” is agreed", ["Buyer and seller confirmed the same terms."]),
    },
    "deal_cancelled": {
        "vi": ("Giao dịch “{title}” đã bị huỷ", ["Giao dịch đã bị huỷ. Lý do: {reason}"]),
        "en": ("The deal “{title}” was cancelled", ["The deal was cancelled. Reason: {reason}"]),
    },
    "invoice_issued": {
        "vi": (
            "Hoá đơn phí giao dịch “{title}”: {amount}",
            ["Hoá đơn phí giao dịch đã được phát hành cho tổ chức bạn."],
        ),
        "en": (
            "Fee invoice for the deal “{title}”: {amount}",
            ["A transaction fee invoice was issued to your organization."],
        ),
    },
    "invoice_paid": {
        "vi": ("Đã thanh toán hoá đơn {amount} (“{title}”)", ["Hoá đơn phí giao dịch đã được thanh toán. Xin cảm ơn."]),
        "en": ("Invoice of {amount} paid (“{title}”)", ["The transaction fee invoice is paid. Thank you."]),
    },
    "invoice_refunded": {
        "vi": ("Đã hoàn tiền hoá đơn {amount} (“{title}”)", ["Hoá đơn phí giao dịch đã được hoàn tiền toàn bộ."]),
        "en": ("Invoice of {amount} refunded (“{title}”)", ["The transaction fee invoice was refunded in full."]),
    },
    "auction_closed": {
        "vi": (
            "Phiên đấu giá “{title}” đã kết thúc",
            ["Phiên đấu giá đã kết thúc với {bid_count} lượt trả giá. {result}"],
        ),
        "en": ("The auction of “{title}” has closed", ["The auction closed after {bid_count} bids. {result}"]),
    },
    "auction_cancelled": {
        "vi": ("Phiên đấu giá “{title}” đã bị huỷ", ["Phiên đấu giá đã bị huỷ trước khi kết thúc. Lý do: {reason}"]),
        "en": (
            "The auction of “{title}” was cancelled",
            ["The auction was cancelled before its close. Reason: {reason}"],
        ),
    },
    "listing_expiring": {
        "vi": (
            "{kind_word_cap} “{title}” sẽ hết hạn ngày {expires}",
            ["{kind_word_cap} “{title}” của tổ chức bạn sẽ hết hạn ngày {expires}. Gia hạn để tiếp tục hiển thị."],
        ),
        "en": (
            "Your {kind_word} “{title}” expires on {expires}",
            ["Your organization's {kind_word} “{title}” expires on {expires}. Renew it to keep it published."],
        ),
    },
}

LABELS = {
    "vi": {
        "title": "Tiêu đề",
        "sector": "Lĩnh vực",
        "region": "Tỉnh/thành",
        "value": "Giá trị",
        "amount": "Số tiền",
        "deal": "Giao dịch",
        "instalment": "Đợt",
        "expires": "Hết hạn",
        "view": "Xem chi tiết",
        "renew": "Gia hạn (POST)",
    },
    "en": {
        "title": "Title",
        "sector": "Sector",
        "region": "Province",
        "value": "Value",
        "amount": "Amount",
        "deal": "Deal",
        "instalment": "Instalment",
        "expires": "Expires",
        "view": "View",
        "renew": "Renew (POST)",
    },
}


# The outcome line of a closed auction: won (by whom, at what amount, both public once it closed) or not.
AUCTION_RESULT = {
    "vi": {
        "won": "{winner} thắng với giá {amount}.",
        "unsold": "Không có giá thắng (không có lượt trả giá đạt giá sàn).",
    },
    "en": {"won": "{winner} won at {amount}.", "unsold": "Nobody won (no bid met the reserve)."},
}


@dataclass
class Content:
    """The variable part of one message: fields for the catalogue's texts, facts, listed items and a link."""

    kind: str
    fields: dict[str, Any]
    facts: list[tuple[str, str]] = field(default_factory=list)
    items: list[tuple[str, str]] = field(default_factory=list)
    link: tuple[str, str] | None = None


@dataclass(frozen=True)
class Rendered:
    """A message's subject and its two bodies."""

    subject: str
    text: str
    html: str


def money(amount: int | None, currency: str | None, language: str) -> str:
    """An amount for people: 1.500.000 VND in Vietnamese, 1,500,000 VND in English."""
    if amount is None:
        return "—"
    grouped = f"{amount:,}"
    return f"{grouped.replace(',', '.') if language == 'vi' else grouped} {currency or 'VND'}"


def day(at: datetime, language: str) -> str:
    """A date for people: 31/12/2026 in Vietnamese, 2026-12-31 in English."""
    return at.strftime("%d/%m/%Y") if language == "vi" else at.strftime("%Y-%m-%d")


def label(language: str, name: str) -> str:
    """A fact's label in the language."""
    return LABELS[language][name]


def render(content: Content, language: str, name: str, unsubscribe_url: str) -> Rendered:
    """Subject, text and HTML of a message in the member's language."""
    fields = dict(content.fields)
    kind_word = KIND_WORD[language].get(str(fields.get("listing_kind", "")), "")
    fields.setdefault("kind_word", kind_word)
    fields.setdefault("kind_word_cap", kind_word[:1].upper() + kind_word[1:])
    subject_format, line_formats = TEXTS[content.kind][language]
    subject = subject_format.format(**fields)
    lines = [line.format(**fields) for line in line_formats]
    context = {
        "t": COMMON[language],
        "language": language,
        "subject": subject,
        "name": name,
        "lines": lines,
        "facts": content.facts,
        "items": content.items,
        "link": content.link,
        "unsubscribe_url": unsubscribe_url,
    }
    text = _ENV.get_template("message.txt").render(context)
    html = _ENV.get_template("message.html").render(context)
    # Subjects are one line: a title with a line break in it must not start new headers.
    return Rendered(subject=" ".join(subject.split()), text=text, html=html)
