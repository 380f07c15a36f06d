-- Organizations, members, API keys, listings, the outbox and idempotency records.

CREATE TABLE organizations (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name             text NOT NULL,
    kind             text NOT NULL CHECK (kind IN ('institute', 'enterprise', 'broker')),
    tax_code         text,
    province         text NOT NULL,
    website          text,
    contact_email    text NOT NULL,
    description      text,
    status           text NOT NULL DEFAULT 'pending_verification'
                     CHECK (status IN ('pending_verification', 'verified', 'rejected')),
    rejection_reason text,
    verified_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    version          integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX organizations_tax_code_key ON organizations (tax_code) WHERE tax_code IS NOT NULL;

-- Operators are members of no organization.
CREATE TABLE members (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id     uuid REFERENCES organizations (id),
    name       text NOT NULL,
    email      text NOT NULL,
    role       text NOT NULL CHECK (role IN ('owner', 'editor', 'viewer', 'operator')),
    created_at timestamptz NOT NULL DEFAULT now(),
    removed_at timestamptz,
    CHECK ((role = 'operator') = (org_id IS NULL))
);
CREATE UNIQUE INDEX members_org_email_key ON members (org_id, lower(email))
    WHERE removed_at IS NULL AND org_id IS NOT NULL;
CREATE UNIQUE INDEX members_operator_email_key ON members (lower(email))
    WHERE removed_at IS NULL AND org_id IS NULL;

CREATE TABLE api_keys (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id    uuid NOT NULL REFERENCES members (id),
    key_hash     bytea NOT NULL UNIQUE,
    prefix       text NOT NULL,
    name         text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX api_keys_member_idx ON api_keys (member_id);

-- Offers and demands share one lifecycle; kind-specific columns are NULL on the other kind.
CREATE TABLE listings (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind                 text NOT NULL CHECK (kind IN ('offer', 'demand')),
    owner_org_id         uuid NOT NULL REFERENCES organizations (id),
    created_by           uuid REFERENCES members (id),
    status               text NOT NULL DEFAULT 'draft'
                         CHECK (status IN ('draft', 'pending_review', 'published', 'rejected', 'withdrawn', 'expired')),
    title                text NOT NULL,
    summary              text,
    description          text NOT NULL,
    language             text NOT NULL CHECK (language IN ('vi', 'en')),
    sector               text NOT NULL,
    keywords             text[] NOT NULL DEFAULT '{}',
    strategic_groups     text[] NOT NULL DEFAULT '{}',
    region               text NOT NULL,
    transfer_modes       text[] NOT NULL DEFAULT '{}',
    contact              jsonb,
    -- offers
    trl                  smallint CHECK (trl BETWEEN 1 AND 9),
    ip_status            text,
    patent_numbers       text[] NOT NULL DEFAULT '{}',
    price_amount         bigint CHECK (price_amount >= 0),
    price_currency       text,
    price_type           text,
    confidential_details text,
    -- demands
    trl_min              smallint CHECK (trl_min BETWEEN 1 AND 9),
    budget_amount        bigint CHECK (budget_amount >= 0),
    budget_currency      text,
    deadline             date,
    quality_score        smallint NOT NULL DEFAULT 0,
    quality_hints        text[] NOT NULL DEFAULT '{}',
    rejection_reason     text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    submitted_at         timestamptz,
    published_at         timestamptz,
    expires_at           timestamptz,
    version              integer NOT NULL DEFAULT 1
);
CREATE INDEX listings_public_idx ON listings (kind, created_at DESC, id DESC) WHERE status = 'published';
CREATE INDEX listings_owner_idx ON listings (owner_org_id, kind, created_at DESC, id DESC);
CREATE INDEX listings_pending_idx ON listings (kind, created_at) WHERE status = 'pending_review';
CREATE INDEX listings_expiry_idx ON listings (expires_at) WHERE status = 'published';

-- Events written in the same transaction as the change they describe; consumers drain it.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    topic        text NOT NULL,
    aggregate_id uuid NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    attempts     integer NOT NULL DEFAULT 0,
    last_error   text,
    processed_at timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (available_at, id) WHERE processed_at IS NULL;

CREATE TABLE idempotency_keys (
    scope         text NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status        integer NOT NULL,
    body          bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope, key)
);
