"""ETags, cursors, settings and the naming of fields in validation errors."""

import uuid
from datetime import UTC, datetime

import pytest

from exchange.kernel.errors import BadRequest, PreconditionFailed, _field_of
from exchange.kernel.http import check_if_match, decode_cursor, encode_cursor, etag
from exchange.kernel.settings import SettingsError, settings_from_env


def test_if_match_accepts_the_current_version_in_any_usual_form():
    for header in (None, "*", '"3"', 'W/"3"', '"2", "3"', "3"):
        check_if_match(header, 3)


def test_stale_if_match_is_412():
    with pytest.raises(PreconditionFailed):
        check_if_match('"2"', 3)


def test_malformed_if_match_is_400():
    with pytest.raises(BadRequest):
        check_if_match('"abc"', 3)


def test_etag_round_trips_through_if_match():
    check_if_match(etag(7), 7)
    with pytest.raises(PreconditionFailed):
        check_if_match(etag(7), 8)


def test_cursor_round_trip_and_garbage():
    at = datetime(2026, 11, 22, 8, 30, 1, 123456, tzinfo=UTC)
    id_ = uuid.uuid4()
    assert decode_cursor(encode_cursor(at, id_)) == (at, id_)
    assert decode_cursor(None) is None
    for bad in ("not-a-cursor", "e30", "WyJ4Il0"):
        with pytest.raises(BadRequest):
            decode_cursor(bad)


def test_live_stripe_key_is_refused():
    with pytest.raises(SettingsError):
        settings_from_env({"STRIPE_SECRET_KEY": "sk_live_abc"})
    assert settings_from_env({"STRIPE_SECRET_KEY": "sk_test_abc"}).stripe_secret_key == "sk_test_abc"


def test_short_bootstrap_key_is_refused_and_env_is_converted():
    with pytest.raises(SettingsError):
        settings_from_env({"OPERATOR_BOOTSTRAP_KEY": "short"})
    settings = settings_from_env({"PORT": "9001", "RUN_JOBS": "false"})
    assert settings.port == 9001
    assert settings.run_jobs is False


def test_validation_items_name_their_field():
    assert _field_of({"message": "Object contains unknown field `colour`", "key": "data"}) == (
        "colour",
        "Object contains unknown field `colour`",
    )
    assert _field_of({"message": "Expected `int` <= 9", "key": "trl"}) == ("trl", "Expected `int` <= 9")
    assert _field_of({"message": "Expected `int` >= 0 - at `$.price.amount`", "key": "data"}) == (
        "price.amount",
        "Expected `int` >= 0",
    )
