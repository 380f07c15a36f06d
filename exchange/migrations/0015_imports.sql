-- Bulk import of a catalogue: listings carry the importer's own id, unique per organization, so a re-import of the
-- same file creates nothing twice; an import keeps its rows until the last chunk of them has been handled.
ALTER TABLE listings ADD COLUMN external_id text CHECK (external_id IS NULL OR length(external_id) BETWEEN 1 AND 200);
CREATE UNIQUE INDEX listings_org_external_id_key ON listings (owner_org_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE imports (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    org_id      uuid NOT NULL REFERENCES organizations (id),
    member_id   uuid NOT NULL REFERENCES members (id),
    key_id      uuid NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('offer', 'demand')),
    format      text NOT NULL CHECK (format IN ('csv', 'jsonl')),
    dry_run     boolean NOT NULL,
    status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    total       integer NOT NULL CHECK (total >= 0),
    processed   integer NOT NULL DEFAULT 0,
    created     integer NOT NULL DEFAULT 0,
    valid       integer NOT NULL DEFAULT 0,
    skipped     integer NOT NULL DEFAULT 0,
    errors      jsonb NOT NULL DEFAULT '[]',
    failure     text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz
);
CREATE INDEX imports_org_idx ON imports (org_id, created_at DESC, id DESC);

-- Each record as it arrived (a CSV row as a JSON object of its cells, or a JSON line as sent).
CREATE TABLE import_rows (
    import_id   uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    row         integer NOT NULL,
    record      text NOT NULL,
    external_id text,
    PRIMARY KEY (import_id, row)
);
CREATE INDEX import_rows_external_id_idx ON import_rows (import_id, external_id) WHERE external_id IS NOT NULL;
