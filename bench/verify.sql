-- The verify path of db/verification.c (verification_consume): one statement,
-- run as the service runs it (autocommit). Tokens are picked at random from
-- bench_tokens (a numbered copy of verification_tokens); the service's $1 is
-- that row's token_hash, fetched by a sub-select inside the statement (no
-- extra round trip). Like the service's, its first use of a token verifies the
-- account and later uses are re-clicks that change nothing.
\set n random(1, :ntok)
WITH verified AS (
  UPDATE accounts a SET email_verified_at = now() FROM verification_tokens t
   WHERE t.token_hash = (SELECT token_hash FROM bench_tokens WHERE n = :n) AND a.id = t.account_id
     AND a.email_verified_at IS NULL AND t.expires_at > now()
  RETURNING a.id),
used AS (UPDATE verification_tokens SET used_at = now()
          WHERE token_hash = (SELECT token_hash FROM bench_tokens WHERE n = :n) AND EXISTS (SELECT 1 FROM verified))
SELECT EXISTS (SELECT 1 FROM verified), t.expires_at > now(), a.email_verified_at IS NOT NULL, a.email
  FROM verification_tokens t JOIN accounts a ON a.id = t.account_id
 WHERE t.token_hash = (SELECT token_hash FROM bench_tokens WHERE n = :n);
