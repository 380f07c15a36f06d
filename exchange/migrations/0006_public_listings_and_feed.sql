-- "Public listing" is defined once, here: published and not past its expiry. Every query that needs it
-- calls listing_is_public (plain SQL functions are inlined, so partial indexes on status still apply).
CREATE FUNCTION listing_is_public(status text, expires_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT status = 'published' AND (expires_at IS NULL OR expires_at > now())
$$;

-- The status a listing reads as now: a published listing past its expiry is expired before the sweep stores it.
CREATE FUNCTION listing_status(status text, expires_at timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN status = 'published' AND NOT listing_is_public(status, expires_at) THEN 'expired' ELSE status END
$$;

-- The change feed's own record of listing changes, written in the transaction of the change (beside its outbox
-- row), so processed outbox rows can be pruned without touching the feed.
CREATE TABLE listing_changes (
    id          bigserial PRIMARY KEY,
    txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    listing_id  uuid NOT NULL REFERENCES listings (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    status      text NOT NULL,
    version     integer NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX listing_changes_feed_idx ON listing_changes (txid, id);
CREATE INDEX listing_changes_published_idx ON listing_changes (listing_id, txid, id) WHERE status = 'published';

-- Positions handed out before this migration name outbox ids: the rows keep them.
INSERT INTO listing_changes (id, txid, listing_id, kind, status, version, changed_at)
SELECT o.id, o.txid, o.aggregate_id, o.payload->>'kind', o.payload->>'status', (o.payload->>'version')::int, o.created_at
FROM outbox o JOIN listings l ON l.id = o.aggregate_id
WHERE o.topic = 'listing.changed'
ORDER BY o.id;
SELECT setval(pg_get_serial_sequence('listing_changes', 'id'), coalesce((SELECT max(id) FROM outbox), 0) + 1, false);

DROP INDEX outbox_listing_feed_idx;
DROP INDEX outbox_listing_history_idx;
CREATE INDEX outbox_processed_idx ON outbox (processed_at) WHERE processed_at IS NOT NULL;
