"""Small helpers the tests share: registering organizations, making operators, writing listings, raw HTTP, and
`exchange serve` in a process of its own."""

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import httpx

from exchange.kernel.settings import Settings
from exchange.organizations.service import create_operator

SERVE_START_SECONDS = 60


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}


async def register(client: Any, kind: str = "institute", **fields: Any) -> tuple[dict[str, Any], str]:
    """Register an organization (unique name and email unless given); return its body and the owner's key."""
    tag = uuid.uuid4().hex[:8]
    body = {
        "name": fields.pop("name", f"Test {kind} organisation {tag}"),
        "kind": kind,
        "province": fields.pop("province", "79"),
        "contact_email": fields.pop("contact_email", f"contact-{tag}@{kind}.example.vn"),
        **fields,
    }
    response = await client.post("/v1/organizations", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return data, data["api_key"]


async def operator_key(conn: asyncpg.Connection, email: str = "ops@exchange.example.vn", role: str = "admin") -> str:
    """Create an operator in a role (an admin by default) directly in the database, as the CLI does; return its key."""
    async with conn.transaction():
        _, secret = await create_operator(conn, email, "Operator", role)
    return secret


async def verified_org(
    client: Any, operator: str, kind: str = "institute", **fields: Any
) -> tuple[dict[str, Any], str]:
    """Register an organization and have an operator verify it."""
    data, key = await register(client, kind, **fields)
    org_id = data["organization"]["id"]
    response = await client.post(f"/v1/organizations/{org_id}/verify", headers=bearer(operator))
    assert response.status_code == 200, response.text
    return data, key


def offer_body(**overrides: Any) -> dict[str, Any]:
    """A complete, convincing offer."""
    body = {
        "title": "Công nghệ xử lý nước thải chăn nuôi bằng màng sinh học MBR",
        "summary": "Hệ thống MBR xử lý nước thải chăn nuôi heo đạt QCVN 62:2016, công suất 50 m3/ngày.",
        "description": (
            "Công nghệ kết hợp bể kỵ khí UASB và màng sinh học MBR để xử lý nước thải chăn nuôi heo. "
            "Hiệu suất khử COD đạt 95%, khử nitơ tổng 85%, chi phí vận hành 4.500 đồng/m3. "
            "Hệ thống đã chạy thử tại 3 trang trại ở Đồng Nai với công suất 50 m3/ngày trong 18 tháng, "
            "nước sau xử lý đạt QCVN 62-MT:2016/BTNMT cột A và có thể tái sử dụng để rửa chuồng. "
            "Diện tích lắp đặt nhỏ hơn 40% so với công nghệ bùn hoạt tính truyền thống."
        ),
        "language": "vi",
        "sector": "207",
        "keywords": ["nước thải", "MBR", "chăn nuôi", "UASB"],
        "trl": 7,
        "ip_status": "patent_granted",
        "patent_numbers": ["1-0034567"],
        "transfer_modes": ["license", "consulting"],
        "price": {"amount": 850_000_000, "currency": "VND"},
        "price_type": "indicative",
        "region": "75",
        "confidential_details": "Tỷ lệ phối trộn vật liệu mang vi sinh 3:1:0,5 và nhà cung cấp màng.",
        "contact": {"name": "TS. Nguyễn Văn An", "email": "an.nguyen@vien.example.vn", "phone": "+84 28 3822 1234"},
    }
    body.update(overrides)
    return body


def demand_body(**overrides: Any) -> dict[str, Any]:
    """A complete demand."""
    body = {
        "title": "Need a compact wastewater treatment unit for a seafood processing plant",
        "description": (
            "Our shrimp processing plant discharges 120 m3/day of wastewater with COD around 2,500 mg/l. "
            "We need a compact treatment unit reaching QCVN 11:2015 column A within 9 months, "
            "with operating cost below 6,000 VND per m3 and footprint under 200 m2."
        ),
        "language": "en",
        "sector": "207",
        "keywords": ["wastewater", "seafood", "COD"],
        "trl_min": 6,
        "budget_max": {"amount": 2_000_000_000, "currency": "VND"},
        "preferred_transfer_modes": ["license", "equipment_sale"],
        "region": "Sóc Trăng",
        "deadline": "2027-06-30",
        "contact": {"name": "Ms. Tran Thi Binh", "email": "binh@seafood.example.vn"},
    }
    body.update(overrides)
    return body


def auction_body(offer_id: str, kind: str = "english", *, ends_in: float = 3600.0, **overrides: Any) -> dict[str, Any]:
    """An auction of an offer starting now and ending `ends_in` seconds from now."""
    at = datetime.now(UTC)
    body: dict[str, Any] = {
        "offer_id": offer_id,
        "kind": kind,
        "starting_price": {"amount": 1_000_000_000, "currency": "VND"},
        "starts_at": (at - timedelta(seconds=1)).isoformat(),
        "ends_at": (at + timedelta(seconds=ends_in)).isoformat(),
    }
    body.update(overrides)
    return body


async def published(client: Any, kind: str, owner: str, operator: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create, submit and approve a listing of either kind; return it as published."""
    created = await client.post(f"/v1/{kind}s", json=body, headers=bearer(owner))
    assert created.status_code == 201, created.text
    listing_id = created.json()["id"]
    submitted = await client.post(f"/v1/{kind}s/{listing_id}/submit", headers=bearer(owner))
    assert submitted.status_code == 200, submitted.text
    approved = await client.post(f"/v1/{kind}s/{listing_id}/approve", headers=bearer(operator))
    assert approved.status_code == 200, approved.text
    return approved.json()


async def published_offer(client: Any, owner_key: str, operator: str, **overrides: Any) -> dict[str, Any]:
    """Create, submit and approve an offer; return it as published."""
    return await published(client, "offer", owner_key, operator, offer_body(**overrides))


async def raw_exchange(url: str, chunks: Iterable[bytes]) -> bytes:
    """Send the chunks over one raw connection while reading, and return everything read until the server closes."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()

    sending = asyncio.create_task(send())
    try:
        return await asyncio.wait_for(reader.read(), 30)
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        writer.close()


def raw_get(path: str, headers: dict[str, str]) -> bytes:
    """The bytes of a GET with these headers."""
    lines = [f"GET {path} HTTP/1.1", "Host: test", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def exchange_serve(settings: Settings, log_path: Path, *args: str, env: dict[str, str | None]) -> Iterator[str]:
    """`exchange serve` (with these extra arguments) in its own process on a free loopback port, for the database and
    servers of these settings, its output in log_path; yields its URL once /health/live answers. A None in env unsets."""
    port = free_port()
    environ = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "MEILI_URL": settings.meili_url,
        "MEILI_MASTER_KEY": settings.meili_master_key,
        "MEILI_INDEX_PREFIX": settings.meili_index_prefix,
        "STRIPE_API_BASE": settings.stripe_api_base,
        "STRIPE_SECRET_KEY": settings.stripe_secret_key,
        **env,
    }
    command = [sys.executable, "-m", "exchange.cli", "serve", "--port", str(port), *args]
    with log_path.open("w") as log:
        server = subprocess.Popen(
            command,
            env={k: v for k, v in environ.items() if v is not None},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVE_START_SECONDS
        while True:
            try:
                if httpx.get(f"{base}/health/live", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
