-- Each cached text gets its latent terms (the model's sparse head): concepts shared across Vietnamese and English,
-- which match listings of the other language where no glossary term does. A listing's vector is now folded of them,
-- under a new cache key: the passage vectors cached before are never read again.
DELETE FROM embedding_cache;
ALTER TABLE embedding_cache
    ADD COLUMN latent_ids     int2[] NOT NULL,
    ADD COLUMN latent_weights real[] NOT NULL;
