-- A pay or refund reserves its invoice for its Stripe calls (committed, with an expiry) instead of holding the row
-- lock while Stripe answers; the read-back job remembers when it last asked Stripe about an unsettled invoice.
ALTER TABLE invoices
    ADD COLUMN stripe_lease       uuid,
    ADD COLUMN stripe_lease_until timestamptz,
    ADD COLUMN read_back_at       timestamptz;

CREATE INDEX invoices_read_back_idx ON invoices ((coalesce(read_back_at, updated_at)))
    WHERE status IN ('open', 'processing', 'failed') AND payment_intent_id IS NOT NULL;
