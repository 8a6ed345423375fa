-- The verify path of db/verification.c (verification_consume), "verified"
-- outcome: BEGIN; lookup ... FOR UPDATE; the UPDATE; COMMIT. Tokens are picked
-- at random from bench_tokens (a numbered copy of verification_tokens); the
-- $1 of the service's statements is that row's token_hash, fetched by a
-- sub-select inside the same statement (no extra round trip).
\set n random(1, :ntok)
BEGIN;
SELECT t.account_id, t.expires_at > now(), a.email_verified_at IS NOT NULL, a.email
  FROM verification_tokens t JOIN accounts a ON a.id = t.account_id
 WHERE t.token_hash = (SELECT token_hash FROM bench_tokens WHERE n = :n) FOR UPDATE OF t, a;
WITH used AS (UPDATE verification_tokens SET used_at = now()
               WHERE token_hash = (SELECT token_hash FROM bench_tokens WHERE n = :n))
UPDATE accounts SET email_verified_at = now() WHERE id = (SELECT account_id FROM bench_tokens WHERE n = :n);
COMMIT;
