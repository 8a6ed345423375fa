-- Accounts created by POST /signup. The email is stored as the person typed it
-- (domain lower-cased) and is unique regardless of letter case.
CREATE TABLE accounts (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email             text        NOT NULL CHECK (octet_length(email) BETWEEN 3 AND 254),
    full_name         text        NOT NULL CHECK (char_length(full_name) BETWEEN 1 AND 100),
    phone_number      text        NOT NULL CHECK (phone_number ~ '^\+[1-9][0-9]{6,14}$'),
    password_hash     text        NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    email_verified_at timestamptz,
    terms_version     text        NOT NULL,
    terms_accepted_at timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX accounts_email_lower_key ON accounts (lower(email));

CREATE FUNCTION accounts_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER accounts_updated_at BEFORE UPDATE ON accounts
    FOR EACH ROW EXECUTE FUNCTION accounts_touch_updated_at();
