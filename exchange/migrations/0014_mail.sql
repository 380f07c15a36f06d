-- Email: each member's notification settings, the queue of messages to send, and the outbox fan-out that gives mail
-- its own copy of events another consumer already drains.

CREATE TABLE mail_settings (
    member_id  uuid PRIMARY KEY REFERENCES members (id),
    email      boolean NOT NULL DEFAULT true,
    language   text NOT NULL DEFAULT 'vi' CHECK (language IN ('vi', 'en')),
    digest     text NOT NULL DEFAULT 'immediate' CHECK (digest IN ('immediate', 'daily', 'off')),
    topics     text[] NOT NULL DEFAULT '{matches,interests,deals,invoices,expiry}',
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One message per (what it is about, member, kind), rendered when queued; the sender claims a row with a lease,
-- sends it with no transaction open, then records the outcome.
CREATE TABLE mail_queue (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    key          text NOT NULL,
    member_id    uuid NOT NULL REFERENCES members (id),
    kind         text NOT NULL,
    topic        text NOT NULL,
    recipient    text NOT NULL,
    language     text NOT NULL,
    subject      text NOT NULL,
    body_text    text NOT NULL,
    body_html    text NOT NULL,
    unsubscribe_url text NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts     integer NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT now(),
    leased_until timestamptz,
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    UNIQUE (key, member_id, kind)
);
CREATE INDEX mail_queue_due_idx ON mail_queue (available_at) WHERE status = 'pending';

-- New matches of members who asked for a daily digest, until the digest that lists them is queued.
CREATE TABLE mail_digest_items (
    member_id       uuid NOT NULL REFERENCES members (id),
    notification_id uuid NOT NULL,
    listing_id      uuid NOT NULL REFERENCES listings (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    digested_at     timestamptz,
    PRIMARY KEY (member_id, notification_id)
);
CREATE INDEX mail_digest_items_due_idx ON mail_digest_items (created_at) WHERE digested_at IS NULL;

-- Each outbox topic has one consumer (processed_at is per row): a topic listed here is copied, payload and all, to
-- copy_topic as it is written, for a second consumer. The copy's insert fires outbox_notify like any other.
CREATE TABLE outbox_fanout (
    topic      text NOT NULL,
    copy_topic text NOT NULL,
    PRIMARY KEY (topic, copy_topic),
    CHECK (topic <> copy_topic)
);

CREATE FUNCTION outbox_fanout_copy() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO outbox (topic, aggregate_id, payload, created_at, available_at)
    SELECT f.copy_topic, NEW.aggregate_id, NEW.payload, NEW.created_at, NEW.available_at
    FROM outbox_fanout f WHERE f.topic = NEW.topic;
    RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_fanout AFTER INSERT ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_fanout_copy();

INSERT INTO outbox_fanout (topic, copy_topic) VALUES
    ('notification.created', 'mail:notification.created'),
    ('deal.agreed', 'mail:deal.agreed'),
    ('deal.cancelled', 'mail:deal.cancelled'),
    ('deal.invoiced', 'mail:deal.invoiced');
