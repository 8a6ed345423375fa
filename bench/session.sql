-- The GET /session path of db/sessions.c (sessions_use): one statement, run
-- as the service runs it (autocommit), for a session drawn at random from
-- bench_sessions (the sessions the row used), idle timeout 3600 s. Like the
-- service's, it writes only for a session last written over a minute ago.
-- (The timestamp formats use "." for ":", which pgbench would read as a
-- variable; the work is the same.)
\set n random(1, :nses)
WITH live AS (SELECT token_hash, account_id, created_at, last_used_at, idle_expires_at, absolute_expires_at
                FROM sessions WHERE token_hash = (SELECT token_hash FROM bench_sessions WHERE n = :n)
                 AND revoked_at IS NULL AND idle_expires_at > now() AND absolute_expires_at > now()),
touched AS (UPDATE sessions s SET last_used_at = now(),
              idle_expires_at = least(now() + make_interval(secs => 3600), s.absolute_expires_at)
              FROM live WHERE s.token_hash = live.token_hash AND live.last_used_at < now() - interval '1 minute'
            RETURNING s.idle_expires_at)
SELECT a.id, a.email, a.full_name, a.phone_number,
       coalesce(to_char(a.email_verified_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24.MI.SS"Z"'), ''),
       to_char(live.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24.MI.SS"Z"'),
       to_char(coalesce((SELECT idle_expires_at FROM touched), live.idle_expires_at) AT TIME ZONE 'UTC',
               'YYYY-MM-DD"T"HH24.MI.SS"Z"')
  FROM live JOIN accounts a ON a.id = live.account_id;
