-- The deal room: confidentiality agreements (NDAs) on offers, and express licence terms an offer may carry.

-- An offer's NDA: its current text version, whether accepting it is required before confidential details are shown,
-- and the revision every change bumps (the resource's ETag: changing only `required` makes no new text version).
CREATE TABLE offer_ndas (
    offer_id   uuid PRIMARY KEY REFERENCES listings (id),
    version    integer NOT NULL CHECK (version >= 1),
    required   boolean NOT NULL,
    revision   integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid REFERENCES members (id)
);

-- Every text an NDA ever had: acceptances name a version, so none is rewritten or dropped.
CREATE TABLE nda_versions (
    offer_id   uuid NOT NULL REFERENCES offer_ndas (offer_id),
    version    integer NOT NULL CHECK (version >= 1),
    text       text NOT NULL,
    sha256     text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by uuid REFERENCES members (id),
    PRIMARY KEY (offer_id, version)
);
ALTER TABLE offer_ndas ADD FOREIGN KEY (offer_id, version) REFERENCES nda_versions (offer_id, version)
    DEFERRABLE INITIALLY DEFERRED;

-- One organization's acceptance of one version, by one of its members: a record that is never changed.
CREATE TABLE nda_acceptances (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    offer_id    uuid NOT NULL,
    version     integer NOT NULL,
    org_id      uuid NOT NULL REFERENCES organizations (id),
    member_id   uuid NOT NULL REFERENCES members (id),
    sha256      text NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (offer_id, version) REFERENCES nda_versions (offer_id, version),
    UNIQUE (offer_id, org_id, version)
);
CREATE INDEX nda_acceptances_offer_idx ON nda_acceptances (offer_id, accepted_at DESC, id DESC);

CREATE FUNCTION nda_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER nda_acceptances_append_only BEFORE UPDATE OR DELETE ON nda_acceptances
    FOR EACH ROW EXECUTE FUNCTION nda_append_only();
CREATE TRIGGER nda_acceptances_no_truncate BEFORE TRUNCATE ON nda_acceptances
    FOR EACH STATEMENT EXECUTE FUNCTION nda_append_only();
CREATE TRIGGER nda_versions_append_only BEFORE UPDATE OR DELETE ON nda_versions
    FOR EACH ROW EXECUTE FUNCTION nda_append_only();
CREATE TRIGGER nda_versions_no_truncate BEFORE TRUNCATE ON nda_versions
    FOR EACH STATEMENT EXECUTE FUNCTION nda_append_only();

-- Express licence terms: {value: {amount, currency}, transfer_mode, summary, term_months, exclusive}, offers only.
ALTER TABLE listings ADD COLUMN licence_terms jsonb CHECK (licence_terms IS NULL OR kind = 'offer');

-- Stored public JSON predates the licence_terms fields: cleared, so the service renders it again when it starts.
UPDATE listings SET public_body = NULL WHERE public_body IS NOT NULL;
