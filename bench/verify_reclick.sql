-- The verify path of db/verification.c (verification_consume), "already
-- verified" outcome (a re-click): BEGIN; lookup ... FOR UPDATE; ROLLBACK.
\set n random(1, :ntok)
BEGIN;
SELECT t.account_id, t.expires_at > now(), a.email_verified_at IS NOT NULL, a.email
  FROM verification_tokens t JOIN accounts a ON a.id = t.account_id
 WHERE t.token_hash = (SELECT token_hash FROM bench_tokens WHERE n = :n) FOR UPDATE OF t, a;
ROLLBACK;
