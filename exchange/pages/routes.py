"""HTTP routes of the public pages: HTML and XML for anyone, cached briefly by browsers and shared caches."""

from litestar import Request, Response, route
from litestar.params import FromPath

from exchange.kernel.errors import NotFound
from exchange.kernel.http import EncodedResponse
from exchange.pages import labels, service
from exchange.pages.service import Page

HTML = b"text/html; charset=utf-8"
XML = b"application/xml; charset=utf-8"
# Any cache may keep a page, but checks it with its ETag before each use (a 304 costs no rendering): a positive max-age
# would let a browser show a withdrawn listing from its own copy after the withdraw, where the service never would.
PUBLIC = b"public, max-age=0, must-revalidate"
# What may become a page later (a listing published after a 404) is not kept.
NOT_KEPT = b"no-cache"


# Every page answers HEAD too (a crawler's or `curl -I`'s check): the same status and headers, without the body.
PAGE_METHODS = ["GET", "HEAD"]


def _answer(request: Request, body: bytes, status: int, headers: list[tuple[bytes, bytes]]) -> Response:
    if request.method == "HEAD":
        return EncodedResponse(b"", status, headers)
    return EncodedResponse(body, status, headers)


def _send(page: Page, request: Request, media_type: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Response:
    headers = [(b"etag", page.etag.encode()), (b"cache-control", PUBLIC), *extra]
    if service.fresh(request.headers.get("if-none-match"), page.etag):
        return EncodedResponse(b"", 304, headers)
    sized = [(b"content-type", media_type), (b"content-length", str(len(page.body)).encode())]
    return _answer(request, page.body, 200, sized + headers)


def _not_found(request: Request) -> Response:
    page = service.not_found_page(labels.pick(request.query_params.get("lang"), request.headers.get("accept-language")))
    headers = [(b"content-type", HTML), (b"content-length", str(len(page.body)).encode()), (b"cache-control", NOT_KEPT)]
    headers.append((b"vary", b"Accept-Language"))
    return _answer(request, page.body, 404, headers)


async def _listing(request: Request, kind: str, listing_id: str) -> Response:
    try:
        page = await service.listing_page(request.app.state, kind, listing_id)
    except NotFound:
        return _not_found(request)
    return _send(page, request, HTML)


@route("/offers/{listing_id:str}", http_method=PAGE_METHODS, include_in_schema=False)
async def offer_page(request: Request, listing_id: FromPath[str]) -> Response:
    """A published offer as an HTML page in its language, with schema.org metadata; 404 page otherwise."""
    return await _listing(request, "offer", listing_id)


@route("/demands/{listing_id:str}", http_method=PAGE_METHODS, include_in_schema=False)
async def demand_page(request: Request, listing_id: FromPath[str]) -> Response:
    """A published demand as an HTML page in its language, with schema.org metadata; 404 page otherwise."""
    return await _listing(request, "demand", listing_id)


@route("/sitemap.xml", http_method=PAGE_METHODS, include_in_schema=False)
async def sitemap(request: Request) -> Response:
    """Every published listing's page, with its last change (an index of numbered pages past 50,000)."""
    raw = request.query_params.get("page")
    if raw is not None and not (raw.isascii() and raw.isdigit() and len(raw) < 9):
        return _not_found(request)
    try:
        page = await service.sitemap(request.app.state, int(raw) if raw is not None else None)
    except NotFound:
        return _not_found(request)
    return _send(page, request, XML)


@route("/stats", http_method=PAGE_METHODS, include_in_schema=False)
async def stats_page(request: Request) -> Response:
    """The statistics with charts, in Vietnamese (default) or English (?lang=en or Accept-Language)."""
    lang = labels.pick(request.query_params.get("lang"), request.headers.get("accept-language"))
    page = await service.stats_page(request.app.state, lang)
    return _send(page, request, HTML, ((b"vary", b"Accept-Language"), (b"content-language", lang.encode())))


ROUTES = [offer_page, demand_page, sitemap, stats_page]
