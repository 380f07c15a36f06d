"""The deal stage machine as pure rules."""

import pytest

from exchange.deals import rules
from exchange.deals.rules import Confirmations
from exchange.kernel.errors import Conflict, InvalidTransition

pytestmark = pytest.mark.unit

NONE = Confirmations(buyer=None, seller=None)


@pytest.mark.parametrize(
    ("stage", "action", "target"),
    [
        ("open", "propose", "negotiating"),
        ("negotiating", "propose", "negotiating"),
        ("negotiating", "agree", "agreed"),
        ("agreed", "invoice", "fee_pending"),
        ("fee_pending", "close", "closed"),
        ("open", "cancel", "cancelled"),
        ("negotiating", "cancel", "cancelled"),
        ("agreed", "cancel", "cancelled"),
        ("fee_pending", "cancel", "cancelled"),
    ],
)
def test_allowed_transitions(stage, action, target):
    assert rules.next_stage(stage, action) == target


@pytest.mark.parametrize(
    ("stage", "action"),
    [
        ("agreed", "propose"),
        ("fee_pending", "propose"),
        ("closed", "propose"),
        ("cancelled", "propose"),
        ("open", "agree"),
        ("open", "invoice"),
        ("negotiating", "close"),
        ("agreed", "close"),
        ("closed", "cancel"),
        ("cancelled", "cancel"),
    ],
)
def test_refused_transitions_name_the_current_stage(stage, action):
    with pytest.raises(InvalidTransition) as refused:
        rules.next_stage(stage, action)
    assert f"that is {stage}" in refused.value.detail
    assert refused.value.status == 409


def test_every_stage_but_closed_and_cancelled_can_be_cancelled():
    cancellable = {s for s in rules.STAGES if s in rules.TRANSITIONS["cancel"][0]}
    assert cancellable == set(rules.STAGES) - {"closed", "cancelled"}


def test_agreed_only_when_both_confirm_the_current_version():
    after_buyer, agreed = rules.confirm("negotiating", 2, 2, "buyer", NONE)
    assert after_buyer == Confirmations(buyer=2, seller=None) and not agreed
    both, agreed = rules.confirm("negotiating", 2, 2, "seller", after_buyer)
    assert both == Confirmations(buyer=2, seller=2) and agreed


def test_a_confirmation_of_older_terms_is_refused():
    with pytest.raises(Conflict) as refused:
        rules.confirm("negotiating", 3, 2, "seller", Confirmations(buyer=3, seller=None))
    assert "version 3" in refused.value.detail


def test_a_side_confirming_old_terms_does_not_count_for_new_ones():
    # The buyer confirmed version 1; version 2 was proposed (clearing it): the seller alone cannot agree.
    _, agreed = rules.confirm("negotiating", 2, 2, "seller", Confirmations(buyer=1, seller=None))
    assert not agreed


def test_confirming_outside_negotiation_is_an_invalid_transition():
    for stage in ("open", "agreed", "fee_pending", "closed", "cancelled"):
        with pytest.raises(InvalidTransition):
            rules.confirm(stage, 1, 1, "buyer", NONE)


def test_fee_events_pass_through_the_stages_once():
    assert rules.stages_on_invoiced("agreed") == ["fee_pending"]
    for stage in ("open", "negotiating", "fee_pending", "closed", "cancelled"):
        assert rules.stages_on_invoiced(stage) == []
    assert rules.stages_on_fees_paid("agreed") == ["fee_pending", "closed"]
    assert rules.stages_on_fees_paid("fee_pending") == ["closed"]
    for stage in ("open", "negotiating", "closed", "cancelled"):
        assert rules.stages_on_fees_paid(stage) == []
