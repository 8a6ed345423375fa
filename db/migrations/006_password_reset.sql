-- Account recovery and takeover defences.
-- password_version counts password changes (reset, change, a verification
-- that sets the password typed at sign-up), not rehashes: a reset link is
-- bound to the version it was issued for, so any change kills every older
-- link, without a cleanup job, while a rehash at sign-in keeps them.
ALTER TABLE accounts
    ADD COLUMN password_version    integer NOT NULL DEFAULT 0,
    ADD COLUMN password_changed_at timestamptz;

CREATE TABLE password_reset_tokens (
    token_hash       bytea       PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    account_id       uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    password_version integer     NOT NULL,
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_reset_tokens_account ON password_reset_tokens (account_id);
CREATE INDEX password_reset_tokens_expiry ON password_reset_tokens (expires_at);

-- Pre-hijacking defence: a verification token made by a sign-up carries
-- that sign-up's password hash, name and phone; following it sets them. They
-- are erased from every token of the account once it is verified.
ALTER TABLE verification_tokens
    ADD COLUMN password_hash text CHECK (password_hash LIKE '$argon2id$%'),
    ADD COLUMN full_name     text CHECK (char_length(full_name) BETWEEN 1 AND 100),
    ADD COLUMN phone_number  text CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$');

-- The expiry sweep of unverified accounts.
CREATE INDEX accounts_unverified_created ON accounts (created_at) WHERE email_verified_at IS NULL;

ALTER TABLE email_outbox DROP CONSTRAINT email_outbox_kind_check;
ALTER TABLE email_outbox ADD CONSTRAINT email_outbox_kind_check
    CHECK (kind IN ('verification', 'already_registered', 'signin_attempts', 'password_reset', 'password_changed'));
ALTER TABLE email_outbox ADD CONSTRAINT email_outbox_reset_link_check
    CHECK (kind <> 'password_reset' OR status IN ('sent', 'dead') OR verify_link IS NOT NULL);
