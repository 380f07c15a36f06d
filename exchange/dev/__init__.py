"""The embedded development stack: PostgreSQL, Meilisearch and the Stripe sandbox on loopback; never needed in production."""
