-- Each cached text also gets its latent terms (the model's sparse head): concepts shared across Vietnamese and
-- English, which match listings of the other language where no glossary term does. Rows cached before this have
-- none and are computed again, latents and vector together.
ALTER TABLE embedding_cache
    ADD COLUMN latent_ids     int2[],
    ADD COLUMN latent_weights real[];
