"""Service settings, read from the environment once and passed explicitly."""

import os
from collections.abc import Mapping
from typing import Literal

import msgspec


class SettingsError(ValueError):
    """The environment asks for something this service refuses to do."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the service reads from its environment."""

    database_url: str = ""
    meili_url: str = ""
    meili_master_key: str = ""
    # Prepended to index names, so several deployments (or test runs) can share one Meilisearch.
    meili_index_prefix: str = ""
    # Off: no latent terms or vectors are computed, and matching goes by words alone (terms, keywords, glossary).
    embeddings: bool = True
    stripe_api_base: str = ""
    stripe_secret_key: str = ""
    # Signs the events Stripe POSTs to /v1/webhooks/stripe (whsec_...); the embedded stack makes one.
    stripe_webhook_secret: str = ""
    # Each call to Stripe waits this long for its answer and is tried again this many times (with the same idempotency
    # key); a pay or refund gives up on Stripe after stripe_deadline in all: 503 with Retry-After, the invoice left for a
    # retry or the read-back.
    stripe_timeout: float = 4.0
    stripe_retries: int = 1
    stripe_deadline: float = 10.0
    # An unsettled invoice with a PaymentIntent is read back from Stripe once nothing changed it for this long (a lost
    # webhook), and again each time this long has passed; the read-back job looks every read_back_every_seconds.
    read_back_after_seconds: float = 180.0
    read_back_every_seconds: float = 60.0
    host: str = "127.0.0.1"
    port: int = 8000
    # Where the public pages are reached from outside (canonical links, sitemap); empty: http://127.0.0.1:<port>.
    public_base_url: str = ""
    operator_bootstrap_key: str = ""
    db_pool_min: int = 2
    # Per process. Enough that 16 clients reading single rows do not queue; a request holds its connection only for
    # its statements (and a read of a kept listing takes none).
    db_pool_max: int = 16
    # Published listings each process keeps for anonymous reads (dropped at once on any change); 0 turns it off.
    listing_cache_entries: int = 10_000
    # A request waits this long for a connection, then gets a 503 with Retry-After instead of hanging.
    db_acquire_timeout: float = 5.0
    listing_ttl_days: int = 365
    expiry_sweep_seconds: float = 60.0
    # The closing job looks this often for auctions past their end, so one closes within about this long.
    auction_close_seconds: float = 1.0
    # Processed outbox events are deleted after this many days (the change feed keeps its own table).
    outbox_retention_days: float = 7.0
    run_jobs: bool = True
    # Development only: let webhooks go to loopback and private addresses, and over plain http.
    allow_private_webhooks: bool = False
    log_level: str = "INFO"
    # json (one object per line), text (for a person), or auto: text when stderr is a terminal, else json.
    log_format: Literal["auto", "json", "text"] = "auto"
    # Browser origins allowed to call the API (comma-separated, e.g. https://techmart.example.vn); none by default.
    cors_origins: str = ""
    # The request line and headers together, in bytes: a longer head is refused with 431 before it is buffered.
    max_header_bytes: int = 16 * 1024
    # Proxies whose X-Forwarded-For names the client (comma-separated addresses or networks, "*" for any); with
    # none, the client is the socket peer.
    trusted_proxies: str = ""
    # Rate limits, counted in PostgreSQL so every process shares them; each is so many per window of seconds, and a
    # limit of 0 turns it off. An address that has sent this many unknown or revoked keys gets 429 for any further one.
    auth_failure_limit: int = 300
    auth_failure_window: int = 300
    # Registrations (POST /v1/organizations) per client address.
    registration_limit: int = 150
    registration_window: int = 60
    # Requests per API key.
    key_request_limit: int = 100_000
    key_request_window: int = 60
    # Email: smtp://user:pass@host:port (smtp+starttls:// or ?starttls=1 for STARTTLS, smtps:// for TLS from the
    # start); empty queues mail without sending it. The embedded stack points it at its local SMTP server.
    smtp_url: str = ""
    mail_from: str = "Techmart <no-reply@techmart.example.vn>"
    # Signs unsubscribe links; derived from the other secrets when empty.
    mail_secret: str = ""
    # Where links in mail point (default http://127.0.0.1:<port>).
    public_base_url: str = ""
    # The sender looks for queued mail this often; a message that could not be sent is tried again with backoff.
    mail_poll_seconds: float = 1.0
    smtp_timeout: float = 10.0
    # The digest and expiry-warning jobs look this often.
    mail_jobs_seconds: float = 600.0

    def check(self) -> "Settings":
        """Refuse settings the service must never run with."""
        if self.stripe_secret_key.startswith(("sk_live_", "rk_live_")):
            raise SettingsError("a live Stripe key was given: this service only talks to a Stripe sandbox")
        if self.operator_bootstrap_key and len(self.operator_bootstrap_key) < 32:
            raise SettingsError("OPERATOR_BOOTSTRAP_KEY must be at least 32 characters")
        return self

    @property
    def base_url(self) -> str:
        """Where links in mail point: PUBLIC_BASE_URL, or this service on loopback."""
        return (self.public_base_url or f"http://127.0.0.1:{self.port}").rstrip("/")


_FIELDS = {name.upper(): name for name in Settings.__struct_fields__}


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build Settings from upper-case environment variables (lax conversion), then overrides."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {field: environ[var] for var, field in _FIELDS.items() if environ.get(var)}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return msgspec.convert(values, Settings, strict=False).check()
