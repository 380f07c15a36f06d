-- Auctions of published offers: english (open, ascending bids) or sealed-bid (one hidden bid per organization).
-- Stored status 'open' covers scheduled too: an auction is scheduled while now() < starts_at, so no job opens it.
-- The closing job moves it to 'closed' (with its outcome and the deal it opened); a cancel moves it to 'cancelled'.
CREATE TABLE auctions (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    offer_id          uuid NOT NULL REFERENCES listings (id),
    seller_org_id     uuid NOT NULL REFERENCES organizations (id),
    created_by        uuid NOT NULL REFERENCES members (id),
    kind              text NOT NULL CHECK (kind IN ('english', 'sealed_bid')),
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed', 'cancelled')),
    currency          text NOT NULL DEFAULT 'VND' CHECK (currency = 'VND'),
    starting_amount   bigint NOT NULL CHECK (starting_amount > 0),
    -- Never served, logged or put in an event: only compared with bids.
    reserve_amount    bigint CHECK (reserve_amount >= starting_amount),
    min_increment     bigint CHECK (min_increment > 0),
    transfer_mode     text NOT NULL,
    terms_summary     text NOT NULL,
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz NOT NULL,
    -- ends_at as created, before any bid in the last minutes moved it.
    scheduled_ends_at timestamptz NOT NULL,
    bid_count         integer NOT NULL DEFAULT 0,
    -- English only: the leading amount (sealed amounts stay in auction_bids until the close).
    high_amount       bigint,
    outcome           text CHECK (outcome IN ('won', 'no_bids', 'reserve_not_met')),
    winning_bid_id    uuid,
    winner_org_id     uuid REFERENCES organizations (id),
    winning_amount    bigint,
    deal_id           uuid UNIQUE REFERENCES deals (id),
    closed_at         timestamptz,
    cancelled_at      timestamptz,
    cancel_reason     text,
    cancelled_by      uuid REFERENCES members (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1,
    CHECK (ends_at > starts_at),
    CHECK ((kind = 'english') = (min_increment IS NOT NULL)),
    CHECK ((status = 'closed') = (outcome IS NOT NULL)),
    CHECK ((outcome = 'won') = (deal_id IS NOT NULL AND winner_org_id IS NOT NULL))
);
-- One open or scheduled auction per offer, whatever races.
CREATE UNIQUE INDEX auctions_one_running_per_offer ON auctions (offer_id) WHERE status = 'open';
-- What the closing job looks for each second.
CREATE INDEX auctions_due_idx ON auctions (ends_at) WHERE status = 'open';
CREATE INDEX auctions_created_idx ON auctions (created_at DESC, id DESC);

CREATE TABLE auction_bids (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    auction_id     uuid NOT NULL REFERENCES auctions (id),
    bidder_org_id  uuid NOT NULL REFERENCES organizations (id),
    member_id      uuid NOT NULL REFERENCES members (id),
    sealed         boolean NOT NULL,
    amount         bigint NOT NULL CHECK (amount > 0),
    currency       text NOT NULL DEFAULT 'VND' CHECK (currency = 'VND'),
    -- When the current amount was bid, read from the database clock under the auction's row lock; a sealed bid
    -- replaced takes the time of its new amount (ties go to the earliest).
    placed_at      timestamptz NOT NULL,
    replaced_count integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- A sealed bid is one per organization: replacing it updates the row.
CREATE UNIQUE INDEX auction_bids_one_sealed_per_org ON auction_bids (auction_id, bidder_org_id) WHERE sealed;
CREATE INDEX auction_bids_auction_idx ON auction_bids (auction_id, placed_at DESC, id DESC);
CREATE INDEX auction_bids_bidder_idx ON auction_bids (auction_id, bidder_org_id);
