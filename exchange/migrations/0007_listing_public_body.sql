-- The public JSON of a published listing, rendered by the service in the transaction that wrote the listing, so a
-- public read sends stored bytes instead of rebuilding them: a column that changes with the row, correct across
-- processes by construction.
ALTER TABLE listings ADD COLUMN public_body bytea;

-- Any update that does not write a new rendering makes the stored one stale, so it is cleared: an update made by
-- hand in SQL, by a job, or by a later migration can never leave an old rendering behind (reads then render the row).
CREATE FUNCTION listings_public_body_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.public_body IS NOT DISTINCT FROM OLD.public_body THEN
        NEW.public_body := NULL;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER listings_public_body_stale BEFORE UPDATE ON listings
    FOR EACH ROW EXECUTE FUNCTION listings_public_body_stale();

-- Existing published listings are rendered by the service when it starts (listings.service.render_missing): the
-- rendering is msgspec's, which SQL cannot reproduce byte for byte.

-- Every change to a listing row, however it is made, names the listing on this channel at commit, in commit order:
-- each service process drops its kept copy of that listing and its kept pages (exchange.kernel.db.NotifiedCache).
CREATE FUNCTION listings_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('listing_changed', (CASE TG_OP WHEN 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER listings_notify_change AFTER INSERT OR UPDATE OR DELETE ON listings
    FOR EACH ROW EXECUTE FUNCTION listings_notify_change();
