-- Fee schedules, the deals payments knows about, fee invoices, PaymentIntents and Stripe events.

CREATE TABLE fee_schedules (
    version        integer PRIMARY KEY,
    effective_from timestamptz NOT NULL DEFAULT now(),
    currency       text NOT NULL DEFAULT 'VND' CHECK (currency = 'VND'),
    -- [{"up_to": int | null, "bps": int}, ...], ascending, the last unbounded
    tiers          jsonb NOT NULL,
    minimum_fee    bigint NOT NULL CHECK (minimum_fee >= 0),
    maximum_fee    bigint CHECK (maximum_fee >= minimum_fee),
    buyer_bps      integer NOT NULL CHECK (buyer_bps BETWEEN 0 AND 10000),
    seller_bps     integer NOT NULL CHECK (seller_bps BETWEEN 0 AND 10000),
    created_by     uuid REFERENCES members (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (buyer_bps + seller_bps = 10000)
);
CREATE INDEX fee_schedules_effective_idx ON fee_schedules (effective_from DESC, version DESC);

-- The default schedule (README, "Payments"): 3 % of the first 1 billion VND, 2 % of the next
-- 9 billion, 1 % above 10 billion; at least 2 million and at most 500 million VND; split 50/50.
INSERT INTO fee_schedules (version, effective_from, tiers, minimum_fee, maximum_fee, buyer_bps, seller_bps)
VALUES (1, '2020-01-01T00:00:00Z',
        '[{"up_to": 1000000000, "bps": 300}, {"up_to": 10000000000, "bps": 200}, {"up_to": null, "bps": 100}]',
        2000000, 500000000, 5000, 5000);

-- One row per agreed (or cancelled) deal, as the deal events told it: the lock taken before
-- deciding that a deal's fees are all paid, and the memory of a cancellation that came first.
CREATE TABLE fee_deals (
    deal_id              uuid PRIMARY KEY,
    value_amount         bigint,
    currency             text,
    buyer_org_id         uuid,
    seller_org_id        uuid,
    broker_org_id        uuid,
    terms_version        integer,
    agreed_at            timestamptz,
    fee_schedule_version integer REFERENCES fee_schedules (version),
    invoiced_at          timestamptz,
    fees_paid_at         timestamptz,
    cancelled_at         timestamptz,
    cancel_reason        text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE invoices (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    deal_id              uuid NOT NULL,
    org_id               uuid NOT NULL REFERENCES organizations (id),
    party                text NOT NULL CHECK (party IN ('buyer', 'seller')),
    instalment           integer NOT NULL CHECK (instalment >= 1),
    instalments          integer NOT NULL CHECK (instalments >= instalment),
    amount               bigint NOT NULL CHECK (amount > 0),
    currency             text NOT NULL DEFAULT 'VND',
    status               text NOT NULL DEFAULT 'open'
                         CHECK (status IN ('open', 'processing', 'paid', 'failed', 'refunded', 'void')),
    fee_schedule_version integer NOT NULL REFERENCES fee_schedules (version),
    -- The PaymentIntent in use; earlier ones (cancelled before a new attempt) stay in payment_intents.
    payment_intent_id    text UNIQUE,
    payment_attempts     integer NOT NULL DEFAULT 0,
    next_action          jsonb,
    last_payment_error   jsonb,
    refund_id            text,
    paid_at              timestamptz,
    refunded_at          timestamptz,
    voided_at            timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    version              integer NOT NULL DEFAULT 1,
    UNIQUE (deal_id, party, instalment)
);
CREATE INDEX invoices_org_idx ON invoices (org_id, created_at DESC, id DESC);
CREATE INDEX invoices_list_idx ON invoices (created_at DESC, id DESC);

-- Every PaymentIntent ever created for an invoice, for reconciliation.
CREATE TABLE payment_intents (
    id         text PRIMARY KEY,
    invoice_id uuid NOT NULL REFERENCES invoices (id),
    attempt    integer NOT NULL,
    amount     bigint NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payment_intents_invoice_idx ON payment_intents (invoice_id);

-- Each verified Stripe event, stored once.
CREATE TABLE stripe_events (
    id           text PRIMARY KEY,
    type         text NOT NULL,
    object_id    text,
    created      timestamptz,
    received_at  timestamptz NOT NULL DEFAULT now()
);
