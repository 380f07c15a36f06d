"""A bare Litestar + msgspec app serving offer-shaped JSON: the baseline the HTTP benchmark compares against.

It reuses the service's response Struct, but none of its middleware, database or rules.
"""

import argparse
import uuid
from pathlib import Path

import msgspec
import uvicorn
from litestar import Litestar, get

from listings.schemas import OfferOut

PAGE_SIZE = 20


class BarePage(msgspec.Struct, kw_only=True):
    """A page of offers, shaped like GET /v1/offers."""

    items: list[OfferOut]
    next_cursor: str | None


def load_offer(sample: Path) -> OfferOut:
    """The offer to serve: a public offer body captured from the running service."""
    return msgspec.json.decode(sample.read_bytes(), type=OfferOut)


def create_app(offer: OfferOut) -> Litestar:
    """One handler returning the offer, one returning a page of PAGE_SIZE copies with their own ids."""
    page = BarePage(items=[msgspec.structs.replace(offer, id=uuid.uuid4()) for _ in range(PAGE_SIZE)], next_cursor=None)

    @get("/bare/offer")
    async def bare_offer() -> OfferOut:
        """The offer."""
        return offer

    @get("/bare/offers")
    async def bare_offers() -> BarePage:
        """A page of offers."""
        return page

    @get("/bare/live")
    async def bare_live() -> dict[str, str]:
        """Readiness probe for the benchmark."""
        return {"status": "ok"}

    return Litestar(route_handlers=[bare_offer, bare_offers, bare_live], openapi_config=None, debug=False)


def main() -> None:
    """Serve the bare app with uvicorn, configured as `exchange serve` configures it."""
    p = argparse.ArgumentParser(description="bare Litestar + msgspec baseline")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sample", type=Path, required=True, help="a JSON file holding one public offer body")
    args = p.parse_args()
    app = create_app(load_offer(args.sample))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, server_header=False)


if __name__ == "__main__":
    main()
