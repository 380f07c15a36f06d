-- Interests, deals and their trail; who else may see a listing's private fields; partner keys; the change feed.

-- Partner exchanges read the change feed with a key of their own; like operators they belong to no organization.
ALTER TABLE members DROP CONSTRAINT members_role_check;
ALTER TABLE members ADD CONSTRAINT members_role_check
    CHECK (role IN ('owner', 'editor', 'viewer', 'operator', 'partner'));
ALTER TABLE members DROP CONSTRAINT members_check;
ALTER TABLE members ADD CONSTRAINT members_org_check CHECK ((role IN ('operator', 'partner')) = (org_id IS NULL));

CREATE TABLE interests (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- the listing the interest is about, and its owner (the recipient)
    target_id         uuid NOT NULL REFERENCES listings (id),
    target_kind       text NOT NULL CHECK (target_kind IN ('offer', 'demand')),
    to_org_id         uuid NOT NULL REFERENCES organizations (id),
    -- the sender, and the sender's own listing of the other kind being answered, if any
    from_org_id       uuid NOT NULL REFERENCES organizations (id),
    from_member_id    uuid NOT NULL REFERENCES members (id),
    listing_id        uuid REFERENCES listings (id),
    -- the offer and the demand this interest links, whichever side each came from
    offer_id          uuid REFERENCES listings (id),
    demand_id         uuid REFERENCES listings (id),
    message           text NOT NULL,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined')),
    decided_at        timestamptz,
    decided_by        uuid REFERENCES members (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1,
    CHECK (from_org_id <> to_org_id)
);
CREATE UNIQUE INDEX interests_one_pending_key ON interests (target_id, from_org_id) WHERE status = 'pending';
CREATE INDEX interests_received_idx ON interests (to_org_id, created_at DESC, id DESC);
CREATE INDEX interests_sent_idx ON interests (from_org_id, created_at DESC, id DESC);
CREATE INDEX interests_target_idx ON interests (target_id, created_at);

-- Written when an interest is accepted: this organization may see this listing's contact and confidential details.
CREATE TABLE listing_disclosures (
    listing_id  uuid NOT NULL REFERENCES listings (id),
    org_id      uuid NOT NULL REFERENCES organizations (id),
    interest_id uuid NOT NULL REFERENCES interests (id),
    granted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (listing_id, org_id)
);

CREATE TABLE deals (
    id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    title                    text NOT NULL,
    offer_id                 uuid NOT NULL REFERENCES listings (id),
    demand_id                uuid REFERENCES listings (id),
    buyer_org_id             uuid NOT NULL REFERENCES organizations (id),
    seller_org_id            uuid NOT NULL REFERENCES organizations (id),
    broker_org_id            uuid REFERENCES organizations (id),
    stage                    text NOT NULL DEFAULT 'open'
                             CHECK (stage IN ('open', 'negotiating', 'agreed', 'fee_pending', 'closed', 'cancelled')),
    value_amount             bigint CHECK (value_amount >= 0),
    value_currency           text,
    transfer_mode            text,
    terms_summary            text,
    terms_version            integer NOT NULL DEFAULT 0,
    terms_proposed_at        timestamptz,
    terms_proposed_by_org_id uuid REFERENCES organizations (id),
    -- the terms_version each side confirmed; cleared by every new proposal
    buyer_confirmed_version  integer,
    seller_confirmed_version integer,
    agreed_at                timestamptz,
    fee_schedule_version     integer,
    invoiced_at              timestamptz,
    closed_at                timestamptz,
    cancelled_at             timestamptz,
    cancel_reason            text,
    created_by               uuid NOT NULL REFERENCES members (id),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now(),
    version                  integer NOT NULL DEFAULT 1,
    CHECK (buyer_org_id <> seller_org_id)
);
CREATE INDEX deals_buyer_idx ON deals (buyer_org_id, created_at DESC, id DESC);
CREATE INDEX deals_seller_idx ON deals (seller_org_id, created_at DESC, id DESC);
CREATE INDEX deals_broker_idx ON deals (broker_org_id, created_at DESC, id DESC) WHERE broker_org_id IS NOT NULL;
CREATE INDEX deals_all_idx ON deals (created_at DESC, id DESC);

-- Append-only: rows are inserted with the change they describe and never updated or deleted.
CREATE TABLE deal_events (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq             bigserial NOT NULL UNIQUE,
    deal_id         uuid NOT NULL REFERENCES deals (id),
    at              timestamptz NOT NULL DEFAULT now(),
    actor_member_id uuid REFERENCES members (id),
    actor_org_id    uuid REFERENCES organizations (id),
    action          text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX deal_events_deal_idx ON deal_events (deal_id, seq);

CREATE FUNCTION deal_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'deal_events is append-only';
END;
$$;
CREATE TRIGGER deal_events_append_only BEFORE UPDATE OR DELETE ON deal_events
    FOR EACH ROW EXECUTE FUNCTION deal_events_append_only();

-- The change feed: a sequence number is not commit order, so each outbox row remembers its transaction,
-- and readers serve only rows of transactions older than every transaction still running.
ALTER TABLE outbox ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX outbox_listing_feed_idx ON outbox (txid, id) WHERE topic = 'listing.changed';
CREATE INDEX outbox_listing_history_idx ON outbox (aggregate_id, txid, id) WHERE topic = 'listing.changed';
