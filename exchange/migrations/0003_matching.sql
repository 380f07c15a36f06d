-- Matching: cached embeddings, subscriptions and their notifications.

-- Vectors by content hash: re-indexing or re-publishing unchanged text never embeds it again.
CREATE TABLE embedding_cache (
    text_hash  bytea PRIMARY KEY,
    vector     real[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE subscriptions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id      uuid NOT NULL REFERENCES members (id),
    org_id         uuid REFERENCES organizations (id),
    kind           text NOT NULL CHECK (kind IN ('offers', 'demands')),
    query          text,
    filters        jsonb NOT NULL DEFAULT '{}',
    webhook_url    text,
    -- The HMAC key webhook receivers verify signatures with; shown once, at creation.
    webhook_secret text,
    -- Set for the subscription a published demand gives its owner to new matching offers.
    demand_id      uuid UNIQUE REFERENCES listings (id),
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    version        integer NOT NULL DEFAULT 1
);
CREATE INDEX subscriptions_active_idx ON subscriptions (kind) WHERE active;
CREATE INDEX subscriptions_member_idx ON subscriptions (member_id, created_at DESC);

CREATE TABLE notifications (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    listing_id      uuid NOT NULL REFERENCES listings (id),
    listing_version integer NOT NULL,
    score           double precision NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivery_status text NOT NULL DEFAULT 'none' CHECK (delivery_status IN ('none', 'pending', 'delivered', 'failed')),
    delivery_attempts integer NOT NULL DEFAULT 0,
    delivered_at    timestamptz,
    last_error      text,
    -- One notification per listing and subscription: a retry or a re-publication never makes a second.
    UNIQUE (subscription_id, listing_id)
);
CREATE INDEX notifications_subscription_idx ON notifications (subscription_id, created_at DESC, id DESC);
