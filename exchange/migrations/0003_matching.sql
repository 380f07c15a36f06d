-- Matching: cached embeddings, subscriptions and their notifications.

-- Vectors by content hash: re-indexing or re-publishing unchanged text never embeds it again.
CREATE TABLE embedding_cache (
    text_hash  bytea PRIMARY KEY,
    vector     real[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A member asks to be told about new listings of a kind that match a query and filters; a published
-- demand gives its owner one more, to new matching offers (demand_id set), active while it is public.
CREATE TABLE subscriptions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id      uuid NOT NULL REFERENCES members (id),
    -- Null for operators; a subscription never hears about its own organization's listings.
    org_id         uuid REFERENCES organizations (id),
    kind           text NOT NULL CHECK (kind IN ('offers', 'demands')),
    query          text,
    -- Search filters as validated at creation (region already a province code).
    filters        jsonb NOT NULL DEFAULT '{}',
    webhook_url    text,
    -- The HMAC key webhook receivers verify signatures with; shown once, at creation. Kept in clear
    -- because signing needs it; cleared when the subscription is deleted.
    webhook_secret text,
    demand_id      uuid UNIQUE REFERENCES listings (id),
    active         boolean NOT NULL DEFAULT true,
    -- Listings published before this moment are not new to the subscription.
    active_since   timestamptz NOT NULL DEFAULT now(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    version        integer NOT NULL DEFAULT 1,
    CHECK ((webhook_url IS NULL) = (webhook_secret IS NULL) OR deleted_at IS NOT NULL),
    CHECK (demand_id IS NULL OR kind = 'offers')
);
CREATE INDEX subscriptions_active_idx ON subscriptions (kind, active_since) WHERE active;
CREATE INDEX subscriptions_member_idx ON subscriptions (member_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE notifications (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id   uuid NOT NULL REFERENCES subscriptions (id),
    listing_id        uuid NOT NULL REFERENCES listings (id),
    listing_version   integer NOT NULL,
    score             double precision NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    -- none: no webhook; pending: queued in the outbox; delivered: a 2xx answer; failed: gave up.
    delivery_status   text NOT NULL DEFAULT 'none' CHECK (delivery_status IN ('none', 'pending', 'delivered', 'failed')),
    -- Attempts made, recorded when the delivery ends (the outbox counts them while it retries).
    delivery_attempts integer NOT NULL DEFAULT 0,
    delivered_at      timestamptz,
    last_error        text,
    -- One notification per listing and subscription: a retry or a re-publication never makes a second.
    UNIQUE (subscription_id, listing_id)
);
CREATE INDEX notifications_subscription_idx ON notifications (subscription_id, created_at DESC, id DESC);
