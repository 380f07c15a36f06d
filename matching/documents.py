"""A listing as a search document: its public view, the fields search filters on, and its vector."""

from datetime import datetime
from typing import Any

from exchange.kernel.taxonomy import sector as sector_of
from listings import public as listings
from listings.public import Listing
from matching import terms
from matching.engine import EMBEDDER


def timestamp(value: datetime | None) -> int | None:
    """Seconds since the epoch: Meilisearch filters and sorts numbers, not dates."""
    return int(value.timestamp()) if value else None


def embedding_text(row: Listing) -> str:
    """What the vector of a listing is computed from."""
    return _joined(row.title, row.summary, row.keywords, row.description)


def view_embedding_text(view: dict[str, Any]) -> str:
    """embedding_text of a listing's public view (the view search hits carry)."""
    return _joined(view["title"], view.get("summary"), view.get("keywords") or [], view["description"])


def _joined(title: str, summary: str | None, keywords: list[str], description: str) -> str:
    parts = [title, summary or "", ", ".join(keywords), description]
    return "\n".join(p for p in parts if p)


def document(row: Listing, vector: list[float] | None) -> dict[str, Any]:
    """The document indexed for a public listing (never its contact or confidential details)."""
    sector = sector_of(row.sector)
    text = f"{row.title}\n{row.summary or ''}\n{' '.join(row.keywords)}\n{row.description}"
    return {
        "id": str(row.id),
        "listing": listings.public_json(row),
        "title": row.title,
        "summary": row.summary,
        "description": row.description,
        "keywords": row.keywords,
        # Glossary equivalents of the terms the listing uses, so a query in the other language finds it.
        "terms": terms.expansions(text),
        "owner_org_id": str(row.owner_org_id),
        "language": row.language,
        "sector": row.sector,
        "sector_field": sector.field if sector else row.sector[:1],
        "strategic_groups": row.strategic_groups,
        "region": row.region,
        "transfer_modes": row.transfer_modes,
        "trl": row.trl,
        "trl_min": row.trl_min,
        "ip_status": row.ip_status,
        "price_amount": row.price_amount,
        "price_type": row.price_type,
        "budget_amount": row.budget_amount,
        "deadline": int(row.deadline.strftime("%Y%m%d")) if row.deadline else None,
        "quality_score": row.quality_score,
        "published_at": timestamp(row.published_at),
        "expires_at": timestamp(row.expires_at),
        "version": row.version,
        "_vectors": {EMBEDDER: vector},
    }
