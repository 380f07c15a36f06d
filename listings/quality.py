"""The quality score of a listing: how complete and convincing it is, with hints to improve it."""

import re
from collections.abc import Sequence

import msgspec

from exchange.kernel.schemas import ApiStruct


class Quality(ApiStruct, frozen=True, kw_only=True):
    """A 0-100 score and what would raise it."""

    score: int
    hints: list[str]


class QualityInput(msgspec.Struct, frozen=True, kw_only=True):
    """The parts of a listing the score looks at."""

    kind: str
    title: str
    description: str
    summary: str | None = None
    keywords: Sequence[str] = ()
    trl: int | None = None
    trl_min: int | None = None
    ip_status: str | None = None
    patent_numbers: Sequence[str] = ()
    transfer_modes: Sequence[str] = ()
    has_price: bool = False
    has_deadline: bool = False
    has_contact: bool = False


GOOD_DESCRIPTION = 400
MIN_DESCRIPTION = 150
PATENTED = frozenset({"patent_granted", "patent_pending", "utility_solution"})

# A number followed by a unit or a percent sign, in Vietnamese or English text:
# "giảm 30%", "50 m3/ngày", "2 tấn/giờ", "accuracy 98.5 %", "15 kWh".
_MEASURE = re.compile(
    r"\d+(?:[.,]\d+)?\s*(?:%|‰|°c|kwh|mwh|kw|mw|kwp|wh|w|v|kv|mah|ah|tấn|tan|tons?|t/h|kg|g|mg|µg|ug|ppm|ppb|mm|cm|km|m2|m3|m³|m²|m|"
    r"lít|lit|litres?|liters?|l|ha|ngày|ngay|days?|giờ|gio|hours?|h|phút|minutes?|min|giây|seconds?|s|ms|lần|times?|x|"
    r"triệu|trieu|tỷ|ty|vnd|đồng|usd|năm|years?|tháng|months?|con|cây|hz|ghz|mhz|gb|tb|mbps|gbps|fps|px|nm|µm|um)(?!\w)",
    re.IGNORECASE,
)


def has_measurable_claims(text: str) -> bool:
    """True when the text states at least two quantities with units."""
    return len(_MEASURE.findall(text)) >= 2


def score(listing: QualityInput) -> Quality:
    """Score a listing; every missing point comes with a hint saying how to earn it."""
    points = 0
    hints: list[str] = []

    def award(ok: bool, worth: int, hint: str) -> None:
        nonlocal points
        if ok:
            points += worth
        else:
            hints.append(hint)

    offer = listing.kind == "offer"
    length = len(listing.description.strip())
    award(len(listing.title.strip()) >= 15, 5, "Give a descriptive title of at least 15 characters.")
    if length >= GOOD_DESCRIPTION:
        points += 25
    elif length >= MIN_DESCRIPTION:
        points += 12
        hints.append(
            f"Extend the description to at least {GOOD_DESCRIPTION} characters: how it works, results, where it was piloted."
        )
    else:
        hints.append(f"The description is too short: write at least {GOOD_DESCRIPTION} characters.")
    award(
        has_measurable_claims(listing.description),
        20,
        "State measurable advantages with numbers and units (capacity, yield %, energy saved, cost per unit)."
        if offer
        else "State measurable requirements with numbers and units (capacity, specifications, targets).",
    )
    award(len(listing.keywords) >= 3, 10, "Add at least 3 keywords so the listing is found and matched.")
    award(
        bool(listing.transfer_modes),
        5,
        "Say how the technology can be transferred (licence, assignment, joint venture ...)."
        if offer
        else "Say which transfer modes you would accept.",
    )
    if offer:
        award(listing.trl is not None, 10, "Give the technology readiness level (TRL 1-9).")
        award(
            bool(listing.summary and len(listing.summary.strip()) >= 40),
            5,
            "Add a one-sentence summary of at least 40 characters.",
        )
        if listing.ip_status in PATENTED:
            award(
                bool(listing.patent_numbers),
                10,
                "Give the patent or utility-solution numbers for the protected technology.",
            )
        else:
            award(
                listing.ip_status is not None and listing.ip_status != "none",
                10,
                "Say how the technology is protected (patent, utility solution, know-how).",
            )
        award(listing.has_price, 5, "Give an indicative price, or leave it negotiable on purpose.")
    else:
        award(listing.trl_min is not None, 10, "Give the minimum technology readiness level you need (TRL 1-9).")
        award(listing.has_price, 10, "Give a maximum budget so owners can judge the fit.")
        award(listing.has_deadline, 10, "Give a deadline for the solution.")
    award(listing.has_contact, 5, "Add a contact person for introductions.")
    return Quality(score=points, hints=hints)
