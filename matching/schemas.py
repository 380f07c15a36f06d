"""Search, match and subscription shapes at the API edge."""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from msgspec import Meta

from exchange.kernel.schemas import ApiStruct, InputStruct, Url, text
from exchange.kernel.taxonomy import IpStatus, Language, SectorCode, TransferMode

SortOrder = Literal["relevance", "published_at", "price"]


class SearchFilters(InputStruct, kw_only=True):
    """Constraints on listings: the search parameters other than the query, sort and paging."""

    sector: SectorCode | None = None
    trl_min: Annotated[int, Meta(ge=1, le=9)] | None = None
    trl_max: Annotated[int, Meta(ge=1, le=9)] | None = None
    transfer_mode: Annotated[list[TransferMode], Meta(max_length=7)] = msgspec.field(default_factory=list)
    region: text(1, 100, "Province code, or a current or former province name") | None = None
    price_max: Annotated[int, Meta(ge=0)] | None = None
    language: Language | None = None
    ip_status: IpStatus | None = None


class SearchHit(ApiStruct, kw_only=True):
    """One listing found, how well it matched (0–1), and its matching passages with <em> marks."""

    listing: dict[str, Any]
    score: float
    highlights: dict[str, str]


class SearchResults(ApiStruct, kw_only=True):
    """A page of hits with facet counts."""

    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]
    estimated_total: int
    processing_ms: int
    limit: int
    offset: int


class ConstraintCheck(ApiStruct, kw_only=True):
    """Whether one hard constraint holds between the two listings, and why."""

    holds: bool
    detail: str


class Explanation(ApiStruct, kw_only=True):
    """Why a listing was matched: the terms both share and each hard constraint."""

    matched_terms: list[str]
    # How close the two texts are in meaning, 0–1 (their latent terms); 0 while either's are not computed yet.
    semantic_similarity: float
    constraints: dict[str, ConstraintCheck]
    broken_constraints: list[str]


class MatchItem(ApiStruct, kw_only=True):
    """A ranked counterpart listing."""

    listing: dict[str, Any]
    score: float
    explanation: Explanation


class MatchResults(ApiStruct, kw_only=True):
    """Counterparts ranked for one listing, best first."""

    items: list[MatchItem]
    query_terms: list[str]
    processing_ms: int


SubscriptionKind = Literal["offers", "demands"]


class SubscriptionCreate(InputStruct, kw_only=True):
    """What to be told about: newly published listings of a kind matching a query and filters."""

    kind: SubscriptionKind
    query: text(1, 500, "Words every matching listing must contain (typos, diacritics and synonyms allowed)") | None = (
        None
    )
    filters: SearchFilters = msgspec.field(default_factory=SearchFilters)
    webhook_url: Url | None = None


class SubscriptionOut(ApiStruct, kw_only=True):
    """A subscription; webhook_secret is shown only in the response that created it."""

    id: UUID
    kind: SubscriptionKind
    query: str | None
    filters: SearchFilters
    webhook_url: str | None
    # Set on the subscription a published demand gives its owner; active while the demand is public.
    demand_id: UUID | None
    active: bool
    created_at: datetime
    version: int
    webhook_secret: str | msgspec.UnsetType = msgspec.UNSET


DeliveryStatus = Literal["none", "pending", "delivered", "failed"]


class NotificationOut(ApiStruct, kw_only=True):
    """A listing that matched a subscription when it was published, and how its webhook delivery went."""

    id: UUID
    subscription_id: UUID
    listing_id: UUID
    listing_version: int
    score: float
    created_at: datetime
    delivery_status: DeliveryStatus
    delivery_attempts: int
    delivered_at: datetime | None
    last_error: str | None
    # The listing as anyone may see it now; null once it is no longer public.
    listing: dict[str, Any] | None
