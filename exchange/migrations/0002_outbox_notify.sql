-- Wake the outbox consumers at commit instead of waiting for their next poll.

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('outbox', NEW.topic);
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_notify();

CREATE INDEX outbox_topic_pending_idx ON outbox (topic, id) WHERE processed_at IS NULL;
