-- Sign-in: sessions (only the SHA-256 of a session token is stored), the
-- client addresses each account has signed in from (so a brute-force cap on
-- the account does not lock its owner out of places they already use), and
-- the notice email sent when that cap trips.
CREATE TABLE sessions (
    token_hash          bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    account_id          uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at          timestamptz NOT NULL DEFAULT now(),
    -- Written at most once a minute per session, with the idle expiry.
    last_used_at        timestamptz NOT NULL DEFAULT now(),
    idle_expires_at     timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    revoked_at          timestamptz,
    -- For the owner's own list of sessions; never used to decide anything.
    client_ip           text        NOT NULL CHECK (octet_length(client_ip) <= 64),
    user_agent          text        NOT NULL CHECK (octet_length(user_agent) <= 512),
    CHECK (idle_expires_at <= absolute_expires_at)
);
CREATE INDEX sessions_account ON sessions (account_id);
-- The sweep deletes what can no longer be used.
CREATE INDEX sessions_idle_expiry ON sessions (idle_expires_at);

-- Keyed by a SHA-256 of the client address, like the rate limits.
CREATE TABLE signin_known_clients (
    account_id        uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_hash       bytea       NOT NULL CHECK (octet_length(client_hash) = 32),
    last_signed_in_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, client_hash)
);

ALTER TABLE email_outbox DROP CONSTRAINT email_outbox_kind_check;
ALTER TABLE email_outbox ADD CONSTRAINT email_outbox_kind_check
    CHECK (kind IN ('verification', 'already_registered', 'signin_attempts'));
