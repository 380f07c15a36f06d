"""Demo data: organizations and listings written for this project, loaded idempotently."""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import asyncpg

from exchange.auctions import public as auctions
from exchange.deals import public as deals
from exchange.interests import public as interests
from exchange.kernel.taxonomy import normalize_region
from exchange.ndas import public as ndas
from listings import public as listings

# Fixed namespace: the same demo key always becomes the same id, so loading twice changes nothing.
NAMESPACE = uuid.UUID("5b0f3c2e-8d1a-4e57-9a43-0c6f1d2b7e90")
_ORG_KEYS = ("name", "kind", "tax_code", "province", "website", "contact_email")


def demo_id(kind: str, key: str) -> uuid.UUID:
    """The stable id of a demo record."""
    return uuid.uuid5(NAMESPACE, f"{kind}:{key}")


def _days_ago(key: str, span: int) -> int:
    """A stable pseudo-random age in days for a listing, so demo dates look lived-in."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % span


def load_json(name: str) -> Any:
    """One of the demo files shipped with the package."""
    return json.loads((resources.files("exchange") / "demo" / name).read_text(encoding="utf-8"))


async def _seed_org(conn: asyncpg.Connection, org: dict[str, Any]) -> tuple[uuid.UUID, bool, str]:
    org_id = demo_id("organization", org["key"])
    status = "verified" if org.get("verified", True) else "pending_verification"
    values = {k: org.get(k) for k in _ORG_KEYS}
    values["province"] = normalize_region(values["province"]) or values["province"]
    await conn.execute(
        """INSERT INTO organizations (id, name, kind, tax_code, province, website, contact_email, status, verified_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, CASE WHEN $8 = 'verified' THEN now() END)
           ON CONFLICT (id) DO NOTHING""",
        org_id,
        *values.values(),
        status,
    )
    await conn.execute(
        """INSERT INTO members (id, org_id, name, email, role) VALUES ($1, $2, $3, $4, 'owner')
           ON CONFLICT (id) DO NOTHING""",
        demo_id("member", org["key"]),
        org_id,
        f"Owner of {org['name']}",
        org["contact_email"],
    )
    return org_id, status == "verified", values["province"]


def _lifecycle(item: dict[str, Any], verified: bool, now: datetime) -> dict[str, Any]:
    """A demo listing's fixed id, status and the times that status implies."""
    kind = item["kind"]
    status = item.get("status", "published")
    if status == "published" and not verified:
        status = "pending_review"
    age = _days_ago(item["key"], 360)
    created = now - timedelta(days=age + 3)
    values: dict[str, Any] = {"id": demo_id(kind, item["key"]), "status": status, "created_at": created}
    if status in ("pending_review", "published"):
        values["submitted_at"] = created + timedelta(days=1)
    if status == "published":
        values["published_at"] = created + timedelta(days=2)
        values["expires_at"] = values["published_at"] + timedelta(days=365)
    return values


async def _owner(conn: asyncpg.Connection, org_id: uuid.UUID) -> uuid.UUID:
    """The first owner of an organization."""
    return await conn.fetchval(
        "SELECT id FROM members WHERE org_id = $1 AND role = 'owner' ORDER BY created_at LIMIT 1", org_id
    )


async def _seed_auction(conn: asyncpg.Connection, item: dict[str, Any], now: datetime) -> bool:
    """One demo english auction running now (it ends ends_in_days after the seed) with its bids."""
    offer_id = demo_id("offer", item["offer"])
    seller = await conn.fetchval("SELECT owner_org_id FROM listings WHERE id = $1 AND status = 'published'", offer_id)
    if seller is None:
        return False
    auction = {
        "id": demo_id("auction", item["key"]),
        "offer_id": offer_id,
        "seller_org_id": seller,
        "created_by": await _owner(conn, seller),
        "kind": item["kind"],
        "starting_amount": item["starting_price"],
        "reserve_amount": item.get("reserve"),
        "min_increment": item["min_increment"],
        "transfer_mode": item["transfer_mode"],
        "terms_summary": item["terms_summary"],
        "starts_at": now - timedelta(days=item["started_days_ago"]),
        "ends_at": now + timedelta(days=item["ends_in_days"]),
    }
    bids = [
        (
            demo_id("organization", b["org"]),
            demo_id("member", b["org"]),
            b["amount"],
            now - timedelta(hours=b["hours_ago"]),
        )
        for b in item["bids"]
    ]
    return await auctions.insert_seeded(conn, auction, bids)


def _timeline(start: datetime, now: datetime, offsets: dict[str, float]) -> dict[str, datetime]:
    """Times `offsets` days after start, squeezed (in order) to end before now when the listings are too young."""
    room = (now - timedelta(hours=1) - start) / timedelta(days=1)
    longest = max(offsets.values(), default=0.0)
    scale = min(1.0, room / longest) if longest > 0 else 1.0
    return {name: start + timedelta(days=days * scale) for name, days in offsets.items()}


async def _published_at(conn: asyncpg.Connection, ids: list[uuid.UUID]) -> datetime | None:
    """The latest publication time of these listings; None unless every one is published."""
    rows = await conn.fetch("SELECT published_at FROM listings WHERE id = ANY($1) AND status = 'published'", ids)
    return max(r["published_at"] for r in rows) if len(rows) == len(ids) else None


async def _seed_history(conn: asyncpg.Connection, now: datetime) -> tuple[int, int]:
    """Past interests between demo organizations and the deals some became, so the statistics have a history."""
    history = load_json("history.json")
    parties: dict[str, dict[str, Any]] = {}
    added_interests = 0
    for item in history["interests"]:
        offer_id = demo_id("offer", item["offer"])
        demand_id = demo_id("demand", item["demand"]) if "demand" in item else None
        listed = [offer_id] + ([demand_id] if demand_id else [])
        published = await _published_at(conn, listed)
        if published is None:
            continue
        start = max(now - timedelta(days=item["days_ago"]), published + timedelta(days=1))
        target_id = offer_id if item["target"] == "offer" else demand_id
        to_org = await conn.fetchval("SELECT owner_org_id FROM listings WHERE id = $1", target_id)
        from_org = demo_id("organization", item["from"])
        buyer, seller = (from_org, to_org) if item["target"] == "offer" else (to_org, from_org)
        times = _timeline(start, now, {"created": 0, "decided": item.get("decided_after_days", 0)})
        decided = item["status"] != "pending"
        values = {
            "id": demo_id("interest", item["key"]),
            "target_id": target_id,
            "target_kind": item["target"],
            "to_org_id": to_org,
            "from_org_id": from_org,
            "from_member_id": demo_id("member", item["from"]),
            "listing_id": demand_id if item["target"] == "offer" else offer_id,
            "offer_id": offer_id,
            "demand_id": demand_id,
            "message": item["message"],
            "status": item["status"],
            "decided_at": times["decided"] if decided else None,
            "decided_by": await _owner(conn, to_org) if decided else None,
            "created_at": times["created"],
        }
        added_interests += await interests.insert_seeded(conn, values)
        parties[item["key"]] = values | {"buyer": buyer, "seller": seller, "start": start}
    added_deals = 0
    for item in history["deals"]:
        if item["interest"] in parties:
            added_deals += await _seed_deal(conn, item, parties[item["interest"]], now)
    return added_interests, added_deals


async def _seed_deal(conn: asyncpg.Connection, item: dict[str, Any], interest: dict[str, Any], now: datetime) -> bool:
    """One demo deal grown from an accepted interest, at the stage and times its item gives."""
    buyer, seller = interest["buyer"], interest["seller"]
    buyer_member, seller_member = await _owner(conn, buyer), await _owner(conn, seller)
    offsets = {"created": item["created_after_days"]}
    for name in ("proposed", "agreed", "cancelled"):
        if f"{name}_after_days" in item:
            offsets[name] = item[f"{name}_after_days"]
    at = _timeline(interest["start"], now, offsets)
    values: dict[str, Any] = {
        "id": demo_id("deal", item["key"]),
        "title": item["title"],
        "offer_id": interest["offer_id"],
        "demand_id": interest["demand_id"],
        "buyer_org_id": buyer,
        "seller_org_id": seller,
        "created_by": buyer_member,
        "stage": item["stage"],
        "terms_version": 0,
        "created_at": at["created"],
        "updated_at": max(at.values()),
    }
    if "proposed" in at:
        values |= {
            "value_amount": item["value"],
            "value_currency": "VND",
            "transfer_mode": item["transfer_mode"],
            "terms_summary": item["terms_summary"],
            "terms_version": 1,
            "terms_proposed_at": at["proposed"],
            "terms_proposed_by_org_id": seller,
        }
    if "agreed" in at:
        values |= {"buyer_confirmed_version": 1, "seller_confirmed_version": 1, "agreed_at": at["agreed"]}
    if "cancelled" in at:
        values |= {"cancelled_at": at["cancelled"], "cancel_reason": item["cancel_reason"]}
    return await deals.insert_seeded(conn, values, {buyer: buyer_member, seller: seller_member})


async def seed(conn: asyncpg.Connection) -> dict[str, int]:
    """Load the demo organizations, listings, NDAs, auctions and past interests and deals; records already there are left
    as they are."""
    now = datetime.now(UTC)
    orgs: dict[str, tuple[uuid.UUID, bool, str]] = {}
    for org in load_json("organizations.json"):
        orgs[org["key"]] = await _seed_org(conn, org)
    added = 0
    for item in load_json("listings.json"):
        org_id, verified, province = orgs[item["org"]]
        if await listings.insert_seeded(conn, item["kind"], org_id, item, province, _lifecycle(item, verified, now)):
            added += 1
    ndas_added = 0
    for nda in load_json("ndas.json"):
        accepted_by = [(orgs[key][0], demo_id("member", key)) for key in nda["accepted_by"]]
        if await ndas.insert_seeded(conn, demo_id("offer", nda["offer"]), nda["text"], nda["required"], accepted_by):
            ndas_added += 1
    auctions_added = 0
    for item in load_json("auctions.json"):
        auctions_added += await _seed_auction(conn, item, now)
    interests_added, deals_added = await _seed_history(conn, now)
    if added:
        # A bulk load leaves the planner without statistics until autovacuum comes by.
        await conn.execute("ANALYZE organizations, listings")
    return {
        "organizations": len(orgs),
        "listings_added": added,
        "ndas_added": ndas_added,
        "auctions_added": auctions_added,
        "interests_added": interests_added,
        "deals_added": deals_added,
    }
