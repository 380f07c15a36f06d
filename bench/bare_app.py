"""A bare Litestar + msgspec app serving offer-shaped JSON: the baseline the HTTP benchmark compares against."""

import argparse
import uuid
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID

import msgspec
import uvicorn
from litestar import Litestar, get

PAGE_SIZE = 20


class Money(msgspec.Struct, kw_only=True):
    """An amount in VND."""

    amount: int
    currency: str


class Quality(msgspec.Struct, kw_only=True):
    """A score with hints."""

    score: int
    hints: list[str]


class BareOffer(msgspec.Struct, kw_only=True):
    """The fields of a public GET /v1/offers/{id} body, in the same order."""

    id: UUID
    kind: str
    owner_org_id: UUID
    status: str
    title: str
    description: str
    language: str
    sector: str
    keywords: list[str]
    strategic_groups: list[str]
    region: str
    quality: Quality
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    published_at: datetime | None
    expires_at: datetime | None
    version: int
    summary: str | None
    trl: int | None
    ip_status: str
    patent_numbers: list[str]
    transfer_modes: list[str]
    price: Money | None
    price_type: str


class BarePage(msgspec.Struct, kw_only=True):
    """A page of offers, shaped like GET /v1/offers."""

    items: list[BareOffer]
    next_cursor: str | None


def default_offer() -> BareOffer:
    """A hard-coded offer of about the size of a real one, used when no sample is given."""
    at = datetime(2026, 3, 2, 8, 30, 15, 123456, tzinfo=timezone.utc)
    return BareOffer(
        id=uuid.UUID("0b8a3f62-5d0e-4c53-9a8e-2f6b1e7c4d10"),
        kind="offer",
        owner_org_id=uuid.UUID("7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"),
        status="published",
        title="Công nghệ xử lý nước thải chăn nuôi bằng màng sinh học MBR",
        description=(
            "Công nghệ kết hợp bể kỵ khí UASB và màng sinh học MBR để xử lý nước thải chăn nuôi heo. "
            "Hiệu suất khử COD đạt 95%, khử nitơ tổng 85%, chi phí vận hành 4.500 đồng/m3. "
            "Hệ thống đã chạy thử tại 3 trang trại ở Đồng Nai với công suất 50 m3/ngày trong 18 tháng, "
            "nước sau xử lý đạt QCVN 62-MT:2016/BTNMT cột A và có thể tái sử dụng để rửa chuồng. "
            "Diện tích lắp đặt nhỏ hơn 40% so với công nghệ bùn hoạt tính truyền thống."
        ),
        language="vi",
        sector="207",
        keywords=["nước thải", "MBR", "chăn nuôi", "UASB"],
        strategic_groups=[],
        region="75",
        quality=Quality(score=100, hints=[]),
        created_at=at,
        updated_at=at,
        submitted_at=at,
        published_at=at,
        expires_at=at.replace(year=2027),
        version=3,
        summary="Hệ thống MBR xử lý nước thải chăn nuôi heo đạt QCVN 62:2016, công suất 50 m3/ngày.",
        trl=7,
        ip_status="patent_granted",
        patent_numbers=["1-0034567"],
        transfer_modes=["license", "consulting"],
        price=Money(amount=850_000_000, currency="VND"),
        price_type="indicative",
    )


def load_offer(sample: Path | None) -> BareOffer:
    """The offer to serve: a captured public offer body (JSON file) if given, else the hard-coded one."""
    if sample is None:
        return default_offer()
    return msgspec.json.decode(sample.read_bytes(), type=BareOffer)


def create_app(offer: BareOffer) -> Litestar:
    """One handler returning the offer, one returning a page of PAGE_SIZE copies with their own ids."""
    page = BarePage(items=[msgspec.structs.replace(offer, id=uuid.uuid4()) for _ in range(PAGE_SIZE)], next_cursor=None)

    @get("/bare/offer")
    async def bare_offer() -> BareOffer:
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
    p.add_argument("--sample", type=Path, default=None, help="a JSON file holding one public offer body")
    args = p.parse_args()
    app = create_app(load_offer(args.sample))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, server_header=False)


if __name__ == "__main__":
    main()
