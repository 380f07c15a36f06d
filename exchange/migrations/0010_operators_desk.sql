-- The operators' desk: operator roles, suspended organizations, the review queue's order and the audit trail.

-- Every operator could do everything before roles existed: each one (and so the bootstrap operator) is an admin.
ALTER TABLE members ADD COLUMN operator_role text CHECK (operator_role IN ('admin', 'reviewer', 'finance'));
UPDATE members SET operator_role = 'admin' WHERE role = 'operator';
ALTER TABLE members ADD CONSTRAINT members_operator_check CHECK ((role = 'operator') = (operator_role IS NOT NULL));

-- A suspended organization remembers the status it is reinstated to.
ALTER TABLE organizations DROP CONSTRAINT organizations_status_check;
ALTER TABLE organizations ADD CONSTRAINT organizations_status_check
    CHECK (status IN ('pending_verification', 'verified', 'rejected', 'suspended'));
ALTER TABLE organizations
    ADD COLUMN suspended_from text CHECK (suspended_from IN ('pending_verification', 'verified', 'rejected')),
    ADD COLUMN suspension_reason text,
    ADD COLUMN suspended_at timestamptz;
ALTER TABLE organizations ADD CONSTRAINT organizations_suspended_check
    CHECK ((status = 'suspended') = (suspended_from IS NOT NULL));
CREATE INDEX organizations_status_idx ON organizations (status, created_at, id);

-- A suspended organization's published listings are 'suspended': not public (listing_is_public), so out of every
-- public read and, through their outbox events, out of search; reinstatement publishes the unexpired ones again.
ALTER TABLE listings DROP CONSTRAINT listings_status_check;
ALTER TABLE listings ADD CONSTRAINT listings_status_check
    CHECK (status IN ('draft', 'pending_review', 'published', 'rejected', 'withdrawn', 'expired', 'suspended'));

-- The review queue: oldest submission first.
UPDATE listings SET submitted_at = created_at WHERE status = 'pending_review' AND submitted_at IS NULL;
CREATE INDEX listings_review_queue_idx ON listings (kind, submitted_at, id) WHERE status = 'pending_review';

-- Every operator action and every key created or revoked, written in the transaction of the action. Subjects are
-- named by type and id (a fee schedule's id is its version number). No secret and no key hash is ever written here.
CREATE TABLE audit_log (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    -- clock_timestamp: the rows one transaction writes keep the order they were written in.
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor_id     uuid REFERENCES members (id),
    actor_role   text,
    action       text NOT NULL,
    subject_type text NOT NULL,
    subject_id   text NOT NULL,
    reason       text,
    request_id   text
);
CREATE INDEX audit_log_time_idx ON audit_log (created_at, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, created_at, id);
CREATE INDEX audit_log_subject_idx ON audit_log (subject_id, created_at, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
