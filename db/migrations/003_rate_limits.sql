-- Abuse limits shared by every instance: fixed-window counters keyed by a
-- SHA-256 of the client IP or email address (the table never holds either).
CREATE TABLE rate_limit_counters (
    scope        text        NOT NULL,
    key_hash     bytea       NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer     NOT NULL,
    PRIMARY KEY (scope, key_hash, window_start)
);
CREATE INDEX rate_limit_counters_age ON rate_limit_counters (window_start);
