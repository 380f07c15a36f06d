"""The application factory: wires every package's routes onto the kernel."""

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator, Callable

from litestar import Litestar, Request
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from litestar.utils import normalize_path
from swagger_ui_bundle import swagger_ui_path

from exchange import health, jobs
from exchange import metrics as metrics_route
from exchange.auctions.routes import AuctionController
from exchange.audit.routes import get_audit
from exchange.deals.routes import DealController
from exchange.imports.routes import ImportController
from exchange.interests.routes import InterestController
from exchange.kernel import db, logs, metrics
from exchange.kernel.auth import authenticate, provide_principal
from exchange.kernel.errors import EXCEPTION_HANDLERS
from exchange.kernel.http import (
    check_body,
    document_common_problems,
    provide_request_id,
    service_middleware,
)
from exchange.kernel.settings import Settings, settings_from_env
from exchange.licences.routes import take_licence
from exchange.mail.routes import NotificationSettingsController, confirm_unsubscribe, unsubscribe
from exchange.ndas.routes import NdaController
from exchange.organizations import public as organizations
from exchange.organizations.routes import MemberController, OperatorController, OrganizationController
from exchange.pages import routes as pages
from exchange.stats.routes import ChangeFeedController, export_stats, get_stats
from exchange.valuation.routes import get_valuation
from listings import service as listing_service
from listings.routes import DemandController, OfferController, get_taxonomy
from matching import public as matching
from matching.routes import (
    DemandMatchController,
    DemandSearchController,
    OfferMatchController,
    OfferSearchController,
    SubscriptionController,
)
from payments import public as payments
from payments.routes import FeeController, InvoiceController, stripe_webhook

log = logging.getLogger("exchange")

MAX_BODY_BYTES = 1024 * 1024
# Swagger UI's scripts and styles, from the pinned swagger-ui-bundle-v2 package: the docs work with no internet.
DOCS_ASSETS = "/schema/assets"


@contextlib.asynccontextmanager
async def _lifespan(app: Litestar) -> AsyncGenerator[None, None]:
    settings: Settings = app.state.settings
    app.state.pool = await db.create_pool(
        settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
    )
    app.state.db_gate = asyncio.Semaphore(settings.db_pool_max)
    metrics.DB_POOL_MAX.set(settings.db_pool_max)
    async with app.state.pool.acquire() as conn:
        if rendered := await listing_service.render_missing(conn):
            log.info("stored the public JSON of %d published listings", rendered)
    if settings.operator_bootstrap_key:
        async with app.state.pool.acquire() as conn, conn.transaction():
            if await organizations.ensure_bootstrap_operator(conn, settings.operator_bootstrap_key):
                log.info("created the bootstrap operator")
    app.state.listing_cache = None
    if settings.listing_cache_entries:
        cache = db.NotifiedCache(settings.database_url, listing_service.CHANGE_CHANNEL, settings.listing_cache_entries)
        app.state.listing_cache = await cache.open()
    try:
        async with contextlib.AsyncExitStack() as stack:
            # Each package's clients for request handlers go on app.state here.
            app.state.stripe = await stack.enter_async_context(payments.open_gateway(settings))
            app.state.meili = await stack.enter_async_context(matching.request_client(settings))
            app.state.meili_search = await stack.enter_async_context(matching.search_session(settings))
            if settings.run_jobs:
                await stack.enter_async_context(jobs.running(settings))
            yield
    finally:
        if app.state.listing_cache is not None:
            await app.state.listing_cache.close()
        await app.state.pool.close()
        metrics.process_exit()


def cors_config(settings: Settings) -> CORSConfig | None:
    """Cross-origin calls only from the origins CORS_ORIGINS names (none by default: no CORS headers at all)."""
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if not origins:
        return None
    return CORSConfig(
        allow_origins=origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "If-Match", "If-None-Match", "Idempotency-Key"],
        expose_headers=["ETag", "Retry-After", "X-Request-ID", "Idempotent-Replayed"],
    )


async def _before_request(request: Request) -> None:
    # Who is asking first (a bad key is a 401 whatever the body), then whether the body can be read at all.
    await authenticate(request)
    await check_body(request)


def methods_by_path(app: Litestar) -> Callable[[str], str | None]:
    """The Allow header of each path: every method of it, OPTIONS included; None for an unknown path."""
    # Litestar's own OPTIONS answer names only the methods of the first controller that registered a path (GET
    # /v1/offers is search's, POST is listings'), and a keyed controller's guards make it a 401.
    allow = {
        re.sub(r":\w+}", "}", path): ", ".join(sorted(handlers))
        for path, handlers in app.route_handler_method_map.items()
    }

    def methods_of(path: str) -> str | None:
        try:
            template = app.asgi_router.handle_routing(path=normalize_path(path), method="OPTIONS")[4]
        except HTTPException:
            return None
        return allow.get(template)

    return methods_of


def create_app(settings: Settings) -> Litestar:
    """Build the service for these settings."""
    openapi = OpenAPIConfig(
        title="Techmart exchange API",
        version="1.0.0",
        description="Technology offers and demands, matching, deals and fees of a national technology exchange.",
        path="/schema",
        use_handler_docstrings=True,
        render_plugins=[
            SwaggerRenderPlugin(
                path=["/", "/swagger"],
                js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
            )
        ],
        components=Components(
            security_schemes={
                "BearerAuth": SecurityScheme(
                    type="http", scheme="bearer", description="An API key: `Authorization: Bearer tmx_...`"
                )
            }
        ),
    )
    app = Litestar(
        route_handlers=[
            OrganizationController,
            MemberController,
            OfferController,
            DemandController,
            get_taxonomy,
            FeeController,
            InvoiceController,
            stripe_webhook,
            health.live,
            health.ready,
            metrics_route.get_metrics,
            OfferSearchController,
            DemandSearchController,
            OfferMatchController,
            DemandMatchController,
            SubscriptionController,
            InterestController,
            DealController,
            AuctionController,
            ChangeFeedController,
            get_stats,
            export_stats,
            get_valuation,
            create_static_files_router(DOCS_ASSETS, directories=[swagger_ui_path], include_in_schema=False),
            OperatorController,
            get_audit,
            NdaController,
            take_licence,
            *pages.ROUTES,
            ImportController,
            NotificationSettingsController,
            unsubscribe,
            confirm_unsubscribe,
        ],
        dependencies={
            "conn": Provide(db.provide_conn),
            "principal": Provide(provide_principal),
            "request_id": Provide(provide_request_id),
        },
        before_request=_before_request,
        cors_config=cors_config(settings),
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[_lifespan],
        openapi_config=openapi,
        request_max_body_size=MAX_BODY_BYTES,
        state=State({"settings": settings}),
        debug=False,
        # Logging is set up once by the process (the CLI, or pytest), not reset by every app instance.
        logging_config=None,
    )
    # Wrapped around the router itself (not per route) so unmatched paths get a request id too.
    app.asgi_handler = service_middleware(app.asgi_handler, methods_by_path(app), cors=app.cors_config is not None)
    document_common_problems(app.openapi_schema)
    return app


def create_app_from_env() -> Litestar:
    """The factory each uvicorn worker process calls: settings from its environment, its own logging."""
    settings = settings_from_env()
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings)
