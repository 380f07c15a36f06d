"""The pieces that put a stored public JSON together: If-None-Match, the page around items, the expiring_soon flag."""

import uuid
from datetime import UTC, datetime, timedelta

import msgspec

from exchange.kernel.http import none_match, page_body
from exchange.kernel.schemas import Page
from listings.repo import ListingRow
from listings.service import render_public, stored_body, to_out

NOW = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


def _row(**overrides) -> ListingRow:
    values = dict(
        id=uuid.uuid4(),
        kind="offer",
        owner_org_id=uuid.uuid4(),
        created_by=None,
        status="published",
        title='A title that says "expiring_soon":false on purpose',
        summary="expiring_soon",
        description='{"expiring_soon":false}',
        language="en",
        sector="207",
        keywords=['"expiring_soon":false'],
        strategic_groups=[],
        region="75",
        transfer_modes=["license"],
        contact={"name": "Someone", "email": "someone@example.vn"},
        trl=7,
        ip_status="none",
        patent_numbers=[],
        price_amount=1000,
        price_currency="VND",
        price_type="firm",
        confidential_details="secret",
        trl_min=None,
        budget_amount=None,
        budget_currency=None,
        deadline=None,
        quality_score=50,
        quality_hints=[],
        rejection_reason=None,
        created_at=NOW - timedelta(days=300),
        updated_at=NOW - timedelta(days=300),
        submitted_at=NOW - timedelta(days=301),
        published_at=NOW - timedelta(days=300),
        expires_at=NOW + timedelta(days=65),
        version=3,
    )
    return ListingRow(**(values | overrides))


def test_none_match_compares_weakly_and_only_the_current_version():
    assert none_match('"3"', 3) and none_match('W/"3"', 3) and none_match('"1", "3"', 3) and none_match("*", 3)
    assert not none_match('"2"', 3) and not none_match('"33"', 3) and not none_match(None, 3)
    assert not none_match("", 3)


def test_page_body_is_what_encoding_the_page_gives():
    items = [{"a": 1}, {"b": [1, 2]}]
    for cursor in (None, "abc_-"):
        expected = msgspec.json.encode(Page(items=items, next_cursor=cursor))
        assert page_body([msgspec.json.encode(i) for i in items], cursor) == expected
    assert page_body([], None) == msgspec.json.encode(Page(items=[], next_cursor=None))


def test_stored_json_is_the_public_view_and_sets_only_the_real_flag():
    row = _row()
    body = render_public(row)
    assert body == msgspec.json.encode(to_out(row, None, NOW))
    assert "contact" not in msgspec.json.decode(body) and "confidential_details" not in msgspec.json.decode(body)
    soon = _row(expires_at=NOW + timedelta(days=3))
    expected = msgspec.json.encode(to_out(soon, None, NOW))
    assert stored_body(render_public(soon), soon=True) == expected
    decoded = msgspec.json.decode(stored_body(render_public(soon), soon=True))
    assert decoded["expiring_soon"] is True
    assert (decoded["title"], decoded["description"], decoded["keywords"]) == (row.title, row.description, row.keywords)
    assert stored_body(body, soon=False) is body
