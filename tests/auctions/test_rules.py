"""Auction rules as pure functions: status, terms, minimum bids, anti-sniping, the winner."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from exchange.auctions import rules
from exchange.auctions.rules import Candidate
from exchange.kernel.errors import Conflict, Unprocessable

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def field_of(error: Unprocessable) -> str:
    assert error.errors
    return error.errors[0].field


def test_a_stored_open_auction_is_scheduled_until_it_starts():
    assert rules.status_at("open", T0, T0 - timedelta(microseconds=1)) == "scheduled"
    assert rules.status_at("open", T0, T0) == "open"
    assert rules.status_at("closed", T0, T0 - HOUR) == "closed"
    assert rules.status_at("cancelled", T0, T0 + HOUR) == "cancelled"


def test_the_default_increment_is_one_percent_rounded_up_and_at_least_one():
    assert rules.default_increment(1_000_000_000) == 10_000_000
    assert rules.default_increment(150) == 2
    assert rules.default_increment(1) == 1


@pytest.mark.parametrize(
    ("kind", "start", "reserve", "increment", "starts", "ends", "field"),
    [
        ("english", 0, None, 1, T0, T0 + HOUR, "starting_price.amount"),
        ("english", 100, 99, 1, T0, T0 + HOUR, "reserve.amount"),
        ("sealed_bid", 100, None, 5, T0, T0 + HOUR, "min_increment"),
        ("english", 100, None, 0, T0, T0 + HOUR, "min_increment.amount"),
        ("english", 100, None, 1, T0, T0, "ends_at"),
        ("english", 100, None, 1, T0 - 2 * HOUR, T0 - HOUR, "ends_at"),
    ],
)
def test_bad_terms_name_their_field(kind, start, reserve, increment, starts, ends, field):
    with pytest.raises(Unprocessable) as caught:
        rules.check_terms(kind, start, reserve, increment, starts, ends, T0)
    assert field_of(caught.value) == field


def test_good_terms_pass():
    rules.check_terms("english", 100, 100, 1, T0 - HOUR, T0 + HOUR, T0)
    rules.check_terms("sealed_bid", 100, None, None, T0 + HOUR, T0 + 2 * HOUR, T0)


def test_bids_are_refused_unless_open_and_before_the_end():
    rules.require_open("open", T0, T0 + HOUR, T0, "bid")
    for stored, at in (("open", T0 - HOUR), ("open", T0 + HOUR), ("closed", T0), ("cancelled", T0)):
        with pytest.raises(Conflict):
            rules.require_open(stored, T0, T0 + HOUR, at, "bid")


def test_the_minimum_bid_is_the_start_then_the_leader_plus_the_increment():
    assert rules.minimum_bid(1_000, None, 50) == 1_000
    assert rules.minimum_bid(1_000, 1_200, 50) == 1_250
    assert rules.minimum_bid(1_000, 1_200, None) == 1_000  # sealed: no leader is shown
    rules.check_amount(1_250, 1_250)
    with pytest.raises(Unprocessable) as caught:
        rules.check_amount(1_249, 1_250)
    assert field_of(caught.value) == "amount"


def test_a_bid_in_the_last_five_minutes_moves_the_end_five_minutes_past_it():
    end = T0 + HOUR
    assert rules.extended_end(end, end - timedelta(minutes=10)) == end
    assert rules.extended_end(end, end - timedelta(minutes=5)) == end
    assert rules.extended_end(end, end - timedelta(minutes=1)) == end + timedelta(minutes=4)
    assert rules.extended_end(end, end - timedelta(seconds=1)) == end + timedelta(minutes=5, seconds=-1)


def bid(amount: int, minutes: int) -> Candidate:
    return Candidate(id=uuid.uuid4(), amount=amount, placed_at=T0 + timedelta(minutes=minutes))


def test_the_highest_bid_wins_and_the_earliest_on_a_tie():
    early, late, low = bid(500, 1), bid(500, 2), bid(400, 0)
    assert rules.winner([late, low, early], None) == ("won", early)
    assert rules.winner([late, low, early], 500) == ("won", early)


def test_no_bids_and_a_reserve_not_met_have_no_winner():
    assert rules.winner([], None) == ("no_bids", None)
    assert rules.winner([bid(499, 0), bid(300, 1)], 500) == ("reserve_not_met", None)


def test_reserve_met_is_not_told_of_a_sealed_auction_before_its_close():
    assert rules.reserve_met("english", "open", 500, None, 400)
    assert not rules.reserve_met("english", "open", 300, None, 400)
    assert rules.reserve_met("english", "open", 1, None, None)
    assert not rules.reserve_met("english", "open", None, None, None)
    assert not rules.reserve_met("sealed_bid", "open", None, None, None)
    assert rules.reserve_met("sealed_bid", "closed", None, "won", 400)
    assert not rules.reserve_met("english", "closed", 300, "reserve_not_met", 400)
