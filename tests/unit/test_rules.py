"""The listing lifecycle rules."""

from datetime import UTC, datetime, timedelta

import pytest

from exchange.kernel.errors import InvalidTransition
from listings import rules

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "action", "target"),
    [
        ("draft", "submit", "pending_review"),
        ("rejected", "submit", "pending_review"),
        ("withdrawn", "submit", "pending_review"),
        ("expired", "submit", "pending_review"),
        ("pending_review", "approve", "published"),
        ("pending_review", "reject", "rejected"),
        ("published", "withdraw", "withdrawn"),
        ("pending_review", "withdraw", "withdrawn"),
        ("published", "renew", "published"),
        ("expired", "renew", "published"),
    ],
)
def test_allowed_transitions(current, action, target):
    assert rules.next_status(current, action) == target


@pytest.mark.parametrize(
    ("current", "action"),
    [
        ("draft", "approve"),
        ("draft", "reject"),
        ("draft", "renew"),
        ("published", "approve"),
        ("published", "submit"),
        ("rejected", "approve"),
        ("withdrawn", "withdraw"),
        ("withdrawn", "renew"),
        ("pending_review", "submit"),
        ("pending_review", "renew"),
    ],
)
def test_refused_transitions_name_the_current_status(current, action):
    with pytest.raises(InvalidTransition) as error:
        rules.next_status(current, action)
    assert current in error.value.detail
    assert error.value.status == 409


def test_every_action_has_a_reachable_start():
    statuses = {"draft", "pending_review", "published", "rejected", "withdrawn", "expired"}
    for action, (starts, target) in rules.TRANSITIONS.items():
        assert starts <= statuses, action
        assert target in statuses, action


def test_editing_a_published_listing_sends_it_back_to_review():
    assert rules.status_after_edit("published", {"title"}) == "pending_review"
    assert rules.status_after_edit("published", {"price", "description"}) == "pending_review"


def test_price_and_contact_edits_keep_it_published():
    assert rules.status_after_edit("published", {"price"}) == "published"
    assert rules.status_after_edit("published", {"price", "price_type", "contact"}) == "published"


def test_edits_in_other_statuses_keep_the_status():
    for status in ("draft", "pending_review", "rejected", "withdrawn", "expired"):
        assert rules.status_after_edit(status, {"title"}) == status


def test_published_listing_past_its_date_is_expired():
    assert rules.effective_status("published", NOW - timedelta(seconds=1), NOW) == "expired"
    assert rules.effective_status("published", NOW + timedelta(days=1), NOW) == "published"
    assert rules.effective_status("draft", NOW - timedelta(days=1), NOW) == "draft"
    assert rules.is_public("published", NOW + timedelta(days=1), NOW)
    assert not rules.is_public("published", NOW, NOW)
    assert not rules.is_public("pending_review", NOW + timedelta(days=1), NOW)


def test_expiring_soon_is_the_last_14_days_of_a_published_listing():
    assert rules.is_expiring_soon("published", NOW + timedelta(days=14), NOW)
    assert rules.is_expiring_soon("published", NOW + timedelta(hours=1), NOW)
    assert not rules.is_expiring_soon("published", NOW + timedelta(days=15), NOW)
    assert not rules.is_expiring_soon("published", NOW - timedelta(hours=1), NOW)
    assert not rules.is_expiring_soon("withdrawn", NOW + timedelta(days=3), NOW)


def test_language_is_guessed_from_vietnamese_letters_and_tones():
    assert rules.guess_language("Công nghệ xử lý nước thải") == "vi"
    assert rules.guess_language("Đo đạc") == "vi"
    assert rules.guess_language("dong co dien") == "en"
    assert rules.guess_language("Wastewater treatment for seafood plants") == "en"
