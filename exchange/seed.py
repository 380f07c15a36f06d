"""Demo data: organizations and listings written for this project, loaded idempotently."""

import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any

import asyncpg

from exchange.auctions import public as auctions
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


def load_json(name: str) -> list[dict[str, Any]]:
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
        "created_by": await conn.fetchval(
            "SELECT id FROM members WHERE org_id = $1 AND role = 'owner' ORDER BY created_at LIMIT 1", seller
        ),
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


async def seed(conn: asyncpg.Connection) -> dict[str, int]:
    """Load the demo organizations, listings, NDAs and auctions; records already there are left as they are."""
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
    if added:
        # A bulk load leaves the planner without statistics until autovacuum comes by.
        await conn.execute("ANALYZE organizations, listings")
    return {
        "organizations": len(orgs),
        "listings_added": added,
        "ndas_added": ndas_added,
        "auctions_added": auctions_added,
    }
