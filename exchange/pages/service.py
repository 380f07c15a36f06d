"""The public pages: a published listing as HTML with its schema.org metadata, the sitemap, and the statistics page.

A listing page is drawn from the same public JSON that GET /v1/offers/{id} serves to anyone (listings.public), read
the same way: from this process's copy, which every change to the listing in any process drops before the next read
(a withdrawn listing is a 404 at once), else from the database. The HTML of one such body is kept, keyed on the body
itself, so a page is rendered once per version of its listing and never outlives it.
"""

import hashlib
import json
import math
import re
from typing import Any
from uuid import UUID

import jinja2
import msgspec
from litestar.datastructures import State
from markupsafe import Markup

from exchange.kernel.db import borrowed
from exchange.kernel.errors import NotFound
from exchange.pages import charts, labels
from exchange.pages.labels import Lang
from exchange.stats import public as stats
from listings import public as listings

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("exchange.pages", "templates"),
    autoescape=jinja2.select_autoescape(("html", "xml")),
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
# The sitemap protocol's limit of URLs per file; past it /sitemap.xml is an index of pages of this many.
SITEMAP_URLS = 50_000
RENDERED_PAGES = 4_000
DESCRIPTION_CHARS = 160
SERIES_MONTHS = 24
KINDS = ("offer", "demand")
_SPACES = re.compile(r"\s+")


class Page(msgspec.Struct, frozen=True):
    """A page as sent: its bytes and their ETag."""

    body: bytes
    etag: str


def page_of(body: str) -> Page:
    """A rendered page with the ETag of its bytes."""
    data = body.encode()
    return Page(data, '"' + hashlib.blake2b(data, digest_size=16).hexdigest() + '"')


def fresh(if_none_match: str | None, etag: str) -> bool:
    """Whether If-None-Match names this ETag (weak comparison) or is *."""
    if not if_none_match:
        return False
    return any(tag.strip() in ("*", etag, f"W/{etag}") for tag in if_none_match.split(","))


def base_url(state: State) -> str:
    """Where the pages are reached from outside, without a trailing slash."""
    settings = state.settings
    return (settings.public_base_url or f"http://127.0.0.1:{settings.port}").rstrip("/")


def _parsed_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound("no such listing") from None


def _summary(text: str) -> str:
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= DESCRIPTION_CHARS else text[: DESCRIPTION_CHARS - 1].rstrip() + "…"


def script_json(value: Any) -> Markup:
    """JSON to place inside a <script> element: nothing in it can end the element or open a comment."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return Markup(text)


def json_ld(listing: listings.PublicListing, url: str) -> dict[str, Any]:
    """schema.org metadata of a listing: an offer is a Product on offer, a demand a Demand for a Service."""
    lang: Lang = listing.language
    sector = labels.sector(listing.sector, lang)
    area = {"@type": "AdministrativeArea", "name": labels.province(listing.region, lang)}
    common: dict[str, Any] = {
        "@context": "https://schema.org",
        "@id": url,
        "url": url,
        "name": listing.title,
        "description": listing.description,
        "inLanguage": lang,
        "category": sector,
    }
    if listing.keywords:
        common["keywords"] = ", ".join(listing.keywords)
    if listing.kind == "offer":
        offer: dict[str, Any] = {
            "@type": "Offer",
            "url": url,
            "availability": "https://schema.org/InStock",
            "areaServed": area,
        }
        if listing.price is not None:
            offer |= {"price": listing.price.amount, "priceCurrency": listing.price.currency}
        if listing.expires_at is not None:
            offer["validThrough"] = listing.expires_at.isoformat()
        properties = [{"@type": "PropertyValue", "name": "ipStatus", "value": listing.ip_status}]
        if listing.trl is not None:
            properties.append({"@type": "PropertyValue", "name": "TRL", "value": listing.trl})
        return {"@type": "Product", **common, "additionalProperty": properties, "offers": offer}
    demand: dict[str, Any] = {
        "@type": "Demand",
        **common,
        "areaServed": area,
        "itemOffered": {"@type": "Service", "name": listing.title, "category": sector},
    }
    if listing.budget_max is not None:
        demand["priceSpecification"] = {
            "@type": "PriceSpecification",
            "maxPrice": listing.budget_max.amount,
            "priceCurrency": listing.budget_max.currency,
        }
    ends = (
        listing.deadline.isoformat()
        if listing.deadline
        else listing.expires_at.isoformat()
        if listing.expires_at
        else None
    )
    if ends is not None:
        demand["availabilityEnds"] = ends
    return demand


def render_listing(listing: listings.PublicListing, base: str) -> Page:
    """A listing's page in its own language."""
    lang: Lang = listing.language
    url = f"{base}/{listing.kind}s/{listing.id}"
    context: dict[str, Any] = {
        "lang": lang,
        "w": labels.words(lang),
        "listing": listing,
        "title": listing.title,
        "description": _summary((listing.summary if listing.kind == "offer" else None) or listing.description),
        "canonical": url,
        "og_type": "product" if listing.kind == "offer" else "website",
        "json_ld": script_json(json_ld(listing, url)),
        "sector": labels.sector(listing.sector, lang),
        "region": labels.province(listing.region, lang),
        "price": None,
        "licence": None,
    }
    if listing.kind == "offer":
        context["trl"] = labels.trl(listing.trl, lang) if listing.trl else None
        context["ip_status"] = labels.ip_status(listing.ip_status, lang)
        context["modes"] = [labels.transfer_mode(m, lang) for m in listing.transfer_modes]
        if listing.price is not None:
            kind = (
                labels.word(f"price_{listing.price_type}", lang)
                if f"price_{listing.price_type}" in labels.WORDS
                else ""
            )
            context["price"] = labels.money(listing.price.amount, listing.price.currency, lang) + (
                f" ({kind})" if kind else ""
            )
        if (terms := listing.licence_terms) is not None:
            context["licence"] = (
                f"{labels.money(terms.value.amount, terms.value.currency, lang)} · "
                f"{labels.transfer_mode(terms.transfer_mode, lang)} · {terms.term_months} "
                f"{'tháng' if lang == 'vi' else 'months'} · {terms.summary}"
            )
    else:
        context["trl"] = labels.trl(listing.trl_min, lang) if listing.trl_min else None
        context["modes"] = [labels.transfer_mode(m, lang) for m in listing.preferred_transfer_modes]
        if listing.budget_max is not None:
            context["price"] = labels.money(listing.budget_max.amount, listing.budget_max.currency, lang)
    return page_of(ENV.get_template("listing.html").render(context))


_rendered: dict[tuple[str, str, bytes], Page] = {}


async def listing_page(state: State, kind: str, raw_id: str) -> Page:
    """The page of a public listing of a kind, else NotFound (unknown or malformed id, or not public now)."""
    listing_id = _parsed_id(raw_id)
    cache = getattr(state, "listing_cache", None)
    read = await listings.kept_public(cache, kind, listing_id)
    if read is None:
        async with borrowed(state) as conn:
            read = await listings.read_public(conn, kind, listing_id, cache)
    base = base_url(state)
    key = (base, kind, read.body)
    page = _rendered.get(key)
    if page is None:
        page = render_listing(listings.decode_public(kind, read.body), base)
        if len(_rendered) >= RENDERED_PAGES:
            _rendered.clear()
        _rendered[key] = page
    return page


_not_found: dict[Lang, Page] = {}


def not_found_page(lang: Lang) -> Page:
    """The HTML 404 page."""
    if lang not in _not_found:
        w = labels.words(lang)
        context = {"lang": lang, "w": w, "title": w["not_found"], "description": w["not_found_text"], "canonical": None}
        _not_found[lang] = page_of(ENV.get_template("not_found.html").render(context))
    return _not_found[lang]


async def sitemap(state: State, page: int | None) -> Page:
    """Every public listing's page with its last change; past SITEMAP_URLS, an index of numbered pages (?page=N)."""
    base = base_url(state)
    async with borrowed(state) as conn, conn.transaction(isolation="repeatable_read", readonly=True):
        total = sum([await listings.count_public(conn, kind) for kind in KINDS])
        pages = max(1, math.ceil(total / SITEMAP_URLS))
        if page is None and pages > 1:
            maps = [{"loc": f"{base}/sitemap.xml?page={n}"} for n in range(1, pages + 1)]
            return page_of(ENV.get_template("sitemap_index.xml").render(maps=maps))
        number = 1 if page is None else page
        if not 1 <= number <= pages:
            raise NotFound("no such sitemap page")
        entries = await listings.public_entries(conn, (number - 1) * SITEMAP_URLS, SITEMAP_URLS)
    urls = [{"loc": f"{base}/{e.kind}s/{e.id}", "lastmod": e.updated_at.isoformat(timespec="seconds")} for e in entries]
    return page_of(ENV.get_template("sitemap.xml").render(urls=urls))


def _table(bars: list[charts.Bar], fmt: charts.Format) -> list[tuple[str, str]]:
    return [(bar.label, fmt(bar.value)) for bar in bars]


def stats_context(snapshot: stats.Stats, lang: Lang) -> dict[str, Any]:
    """What the statistics page shows of one snapshot: headline figures, and charts with their data tables."""
    w = labels.words(lang)

    def count(value: float) -> str:
        return labels.number(value, lang)

    def short(value: float) -> str:
        return labels.short_money(value, lang)

    listed = snapshot.listings
    sectors = sorted(
        (charts.Bar(labels.sector(code, lang), n) for code, n in listed.by_sector.items()),
        key=lambda bar: (-bar.value, bar.label),
    )
    codes = [p.code for p in labels.taxonomy.provinces]
    codes += sorted(set(listed.by_province) - set(codes))
    provinces = [charts.Bar(labels.province(code, lang), listed.by_province.get(code, 0)) for code in codes]
    sides = [
        charts.Bar(w["offers"], snapshot.offers_vs_demands.offers),
        charts.Bar(w["demands"], snapshot.offers_vs_demands.demands),
    ]
    interests = snapshot.interests
    decided = [
        charts.Bar(w["accepted"], interests.accepted),
        charts.Bar(w["declined"], interests.declined),
        charts.Bar(w["pending"], interests.pending),
    ]
    stages = [charts.Bar(w[f"stage_{stage}"], n) for stage, n in snapshot.deals.by_stage.items()]
    months = snapshot.over_time[-SERIES_MONTHS:]
    series = (w["agreed_value"], w["fees"])
    points = [charts.Point(m.period, (m.agreed_value.amount, m.fees.amount)) for m in months]
    rate = interests.acceptance_rate
    chart_list = [
        {
            "id": "by-sector",
            "heading": w["by_sector"],
            "svg": charts.bar_chart("by-sector", w["by_sector"], sectors, empty=w["no_data"], fmt=count),
            "head": (w["sector"], w["count"]),
            "rows": _table(sectors, count),
        },
        {
            "id": "by-province",
            "heading": w["by_province"],
            "svg": charts.bar_chart("by-province", w["by_province"], provinces, empty=w["no_data"], fmt=count),
            "head": (w["region"], w["count"]),
            "rows": _table(provinces, count),
        },
        {
            "id": "offers-vs-demands",
            "heading": w["offers_vs_demands"],
            "svg": charts.share_chart(
                "offers-vs-demands", w["offers_vs_demands"], sides, empty=w["no_data"], fmt=count
            ),
            "head": ("", w["count"]),
            "rows": _table(sides, count),
        },
        {
            "id": "interests",
            "heading": f"{w['interests']} · {w['acceptance_rate']}: "
            + (labels.percent(rate, lang) if rate is not None else w["no_decision"]),
            "svg": charts.share_chart("interests", w["interests"], decided, empty=w["no_data"], fmt=count),
            "head": (w["interests"], w["count"]),
            "rows": _table(decided, count),
        },
        {
            "id": "deals-by-stage",
            "heading": w["deals_by_stage"],
            "svg": charts.bar_chart("deals-by-stage", w["deals_by_stage"], stages, empty=w["no_data"], fmt=count),
            "head": ("", w["count"]),
            "rows": _table(stages, count),
        },
        {
            "id": "over-time",
            "heading": w["over_time"],
            "svg": charts.column_chart("over-time", w["over_time"], series, points, empty=w["no_data"], fmt=short),
            "head": (w["month"], w["agreed_value"] + " (VND)", w["fees"] + " (VND)"),
            "rows": [(m.period, count(m.agreed_value.amount), count(m.fees.amount)) for m in months],
        },
    ]
    figures = [
        {"label": w["offers"], "value": count(snapshot.offers_vs_demands.offers)},
        {"label": w["demands"], "value": count(snapshot.offers_vs_demands.demands)},
        {"label": w["interests"], "value": count(interests.total)},
        {"label": w["acceptance_rate"], "value": labels.percent(rate, lang) if rate is not None else "–"},
        {"label": w["deals"], "value": count(snapshot.deals.total)},
        {"label": w["agreed_value"], "value": labels.money(snapshot.deals.agreed_value.amount, "VND", lang)},
        {"label": w["fees"], "value": labels.money(snapshot.fees.invoiced.amount, "VND", lang)},
    ]
    other: Lang = "en" if lang == "vi" else "vi"
    return {
        "lang": lang,
        "w": w,
        "title": w["stats"],
        "description": w["stats_description"],
        "canonical": None,
        "as_of": snapshot.as_of,
        "figures": figures,
        "charts": chart_list,
        "other_lang": other,
        "other_href": f"/stats?lang={other}",
    }


def render_stats(snapshot: stats.Stats, lang: Lang, base: str) -> Page:
    """The statistics page of one snapshot in a language."""
    context = stats_context(snapshot, lang)
    context["canonical"] = f"{base}/stats" + ("?lang=en" if lang == "en" else "")
    return page_of(ENV.get_template("stats.html").render(context))


async def stats_page(state: State, lang: Lang) -> Page:
    """The statistics page, drawn from one snapshot read once (the one GET /v1/stats would give now)."""
    async with borrowed(state) as conn:
        snapshot = await stats.stats(conn)
    return render_stats(snapshot, lang, base_url(state))
