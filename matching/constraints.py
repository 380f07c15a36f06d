"""The hard constraints between a demand and an offer: pure checks that say whether each holds and why."""

from typing import Any

from matching.schemas import ConstraintCheck

CONSTRAINTS = ("sector", "trl", "transfer_mode", "budget", "region")


def _money(amount: int | None) -> str:
    return f"{amount:,} VND".replace(",", ".") if amount is not None else "not stated"


def sector(demand: dict[str, Any], offer: dict[str, Any]) -> ConstraintCheck:
    """Same S&T sector."""
    if demand["sector"] == offer["sector"]:
        return ConstraintCheck(holds=True, detail=f"both in sector {offer['sector']}")
    return ConstraintCheck(holds=False, detail=f"demand in sector {demand['sector']}, offer in {offer['sector']}")


def trl(demand: dict[str, Any], offer: dict[str, Any]) -> ConstraintCheck:
    """The offer is at least as mature as the demand asks."""
    wanted, level = demand.get("trl_min"), offer.get("trl")
    if wanted is None:
        return ConstraintCheck(holds=True, detail="the demand sets no minimum TRL")
    if level is None:
        return ConstraintCheck(holds=False, detail=f"the demand needs TRL {wanted} or more; the offer states none")
    if level >= wanted:
        return ConstraintCheck(holds=True, detail=f"offer TRL {level} meets the minimum {wanted}")
    return ConstraintCheck(holds=False, detail=f"offer TRL {level} is below the minimum {wanted}")


def transfer_mode(demand: dict[str, Any], offer: dict[str, Any]) -> ConstraintCheck:
    """The offer is transferred in a way the demand accepts."""
    wanted, offered = demand.get("preferred_transfer_modes") or [], offer.get("transfer_modes") or []
    if not wanted:
        return ConstraintCheck(holds=True, detail="the demand accepts any transfer mode")
    if not offered:
        return ConstraintCheck(holds=True, detail="the offer leaves the transfer mode open")
    common = [m for m in offered if m in wanted]
    if common:
        return ConstraintCheck(holds=True, detail=f"both accept {', '.join(common)}")
    return ConstraintCheck(holds=False, detail=f"demand wants {', '.join(wanted)}; offer proposes {', '.join(offered)}")


def budget(demand: dict[str, Any], offer: dict[str, Any]) -> ConstraintCheck:
    """The offer's price fits the demand's budget."""
    ceiling = (demand.get("budget_max") or {}).get("amount")
    price = (offer.get("price") or {}).get("amount")
    if ceiling is None:
        return ConstraintCheck(holds=True, detail="the demand states no budget")
    if price is None:
        return ConstraintCheck(holds=True, detail="the offer's price is negotiable")
    if price <= ceiling:
        return ConstraintCheck(holds=True, detail=f"price {_money(price)} is within the budget {_money(ceiling)}")
    return ConstraintCheck(holds=False, detail=f"price {_money(price)} exceeds the budget {_money(ceiling)}")


def region(demand: dict[str, Any], offer: dict[str, Any]) -> ConstraintCheck:
    """Both sides are in the same province."""
    if demand["region"] == offer["region"]:
        return ConstraintCheck(holds=True, detail=f"both in province {offer['region']}")
    return ConstraintCheck(holds=False, detail=f"demand in province {demand['region']}, offer in {offer['region']}")


CHECKS = {"sector": sector, "trl": trl, "transfer_mode": transfer_mode, "budget": budget, "region": region}


def check_all(demand: dict[str, Any], offer: dict[str, Any]) -> dict[str, ConstraintCheck]:
    """Every hard constraint between a demand and an offer (both as their public API views)."""
    return {name: check(demand, offer) for name, check in CHECKS.items()}
