-- A transaction that changes a listing anyone can read (one published before or after the change) says so in a
-- transaction-local setting: the service's request then waits out the listing cache's lease before it answers
-- (exchange.kernel.db.written), so no process serves its old copy once the writer has had the answer.
CREATE OR REPLACE FUNCTION listings_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('listing_changed', (CASE TG_OP WHEN 'DELETE' THEN OLD.id ELSE NEW.id END)::text);
    IF (CASE TG_OP WHEN 'INSERT' THEN false ELSE OLD.status = 'published' END)
        OR (CASE TG_OP WHEN 'DELETE' THEN false ELSE NEW.status = 'published' END) THEN
        PERFORM set_config('techmart.public_listing_changed', 'on', true);
    END IF;
    RETURN NULL;
END;
$$;
