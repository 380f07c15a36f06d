-- The deal room opens deals already agreed: an express licence accepted online, or an auction's result.
-- Every earlier deal was negotiated through terms and confirmations.
ALTER TABLE deals ADD COLUMN origin text NOT NULL DEFAULT 'negotiated'
    CHECK (origin IN ('negotiated', 'express_licence', 'auction'));
CREATE INDEX deals_origin_idx ON deals (origin) WHERE origin <> 'negotiated';
