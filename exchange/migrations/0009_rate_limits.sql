-- Rate-limit counters shared by every process: one row per limited thing (an address's failed keys, an address's
-- registrations, a key's requests), counting the hits of a fixed window that starts at its first hit. UNLOGGED: a
-- counter is worth no WAL, and a crash that empties the table only forgives the windows in progress. The fill factor
-- leaves room on each page so the one UPDATE per hit stays a HOT update (no index entry written).
CREATE UNLOGGED TABLE rate_limits (
    bucket text PRIMARY KEY,
    window_ends timestamptz NOT NULL,
    hits integer NOT NULL
) WITH (fillfactor = 50);

-- Count one hit of a bucket in one statement (concurrent hits from any process queue on the row): a window that
-- has ended starts again at this hit. STRICT: given a null bucket or window, nothing is counted and the result is
-- null, which lets a query count a key's request only when it found the key (and a limit is set).
CREATE FUNCTION rate_limit_hit(subject text, window_seconds double precision,
                               OUT hits integer, OUT seconds_left double precision)
LANGUAGE sql STRICT AS $$
    INSERT INTO rate_limits AS r (bucket, window_ends, hits)
    VALUES (subject, now() + make_interval(secs => window_seconds), 1)
    ON CONFLICT (bucket) DO UPDATE SET
        hits = CASE WHEN r.window_ends > now() THEN r.hits + 1 ELSE 1 END,
        window_ends = CASE WHEN r.window_ends > now() THEN r.window_ends ELSE EXCLUDED.window_ends END
    RETURNING r.hits, extract(epoch FROM r.window_ends - now())::double precision
$$;
