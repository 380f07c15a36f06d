-- How the catalogue's Vietnamese texts written with diacritics spell each word and pair of words, so that a text typed
-- without them is read by the model with them restored. Each distinct text is counted once.
CREATE TABLE spellings (
    folded  text   NOT NULL,
    written text   NOT NULL,
    count   bigint NOT NULL,
    PRIMARY KEY (folded, written)
);
CREATE TABLE spelled_texts (
    text_hash bytea PRIMARY KEY
);
