-- Email verification: tokens (only their SHA-256 is stored) and the outbox of
-- emails to send, written in the same transaction as the account so a
-- committed sign-up always gets its email and a rolled-back one never does.
CREATE TABLE verification_tokens (
    token_hash bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX verification_tokens_account ON verification_tokens (account_id);

CREATE TABLE email_outbox (
    id              bigserial   PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('verification', 'already_registered')),
    account_id      uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    recipient       text        NOT NULL,
    recipient_name  text        NOT NULL,
    -- The link holds the raw token: kept only until the email has left.
    verify_link     text,
    message_id      text        NOT NULL UNIQUE,
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'sending', 'sent', 'dead')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    locked_until    timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    CHECK (kind <> 'verification' OR status IN ('sent', 'dead') OR verify_link IS NOT NULL)
);
CREATE INDEX email_outbox_due ON email_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX email_outbox_leased ON email_outbox (locked_until) WHERE status = 'sending';
-- Per-address rate limits count recent emails of an account.
CREATE INDEX email_outbox_account_recent ON email_outbox (account_id, created_at);

-- Wake the workers when a row is committed; NOTIFY is delivered on commit only.
CREATE FUNCTION email_outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('email_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER email_outbox_inserted AFTER INSERT ON email_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION email_outbox_notify();
