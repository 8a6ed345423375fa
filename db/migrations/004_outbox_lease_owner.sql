-- Who holds the lease of a 'sending' row, so that the claims of a worker
-- known to be dead (killed, crashed) are taken over at once instead of when
-- OUTBOX_LEASE_S runs out. A holder is a process, its pid and start time,
-- within a scope (host, boot, pid namespace, user) where other processes can
-- check whether it still runs, plus the INSTANCE_ID it was started with, if
-- any. A row that goes back to 'pending' names nobody; a sent or dead row
-- keeps its last holder.
ALTER TABLE email_outbox
    ADD COLUMN lease_instance  text,
    ADD COLUMN lease_scope     text,
    ADD COLUMN lease_pid       integer,
    ADD COLUMN lease_pid_start bigint;
