#!/usr/bin/python3
"""The cluster test's scenarios (started by tests/cluster/run.sh, which brings
up PostgreSQL, PgBouncer, three API nodes, two mail workers, the SMTP sink and
nginx and passes where they are in CLUSTER_* variables). Every request goes to
nginx or straight to a node over real HTTP; every count is read back from
PostgreSQL (psql, PG* variables) and from the sink's .eml files.

Phases, each bounded in requests and time:
  1. sign-ups from many client addresses through nginx: each 201 has one
     account, one token and one email; every node served some
  2. the per-address and per-IP sign-up limits hold across nodes
  3. a session made on one node works on every node; a sign-out on one is
     seen by all at once
  4. PostgreSQL restarted under load: nodes and workers recover by themselves
  5. kill -9 of one API node and one worker under load: nginx routes around
     the node; the worker's claimed mail is sent by the other at once (it sees
     the holder is dead), and in any case within the lease
  6. the whole run: every account has its email, every email left once (a
     re-send of the killed worker's claims, same Message-ID, is the only
     exception)
Prints one line per check and the figures, then "cluster: N passed, M failed".
"""

import collections
import concurrent.futures
import email
import email.parser
import email.policy
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

NGINX = tuple(os.environ["CLUSTER_NGINX"].rsplit(":", 1))
NODES = [tuple(n.rsplit(":", 1)) for n in os.environ["CLUSTER_NODES"].split()]
NODE_PIDS = [int(p) for p in os.environ["CLUSTER_NODE_PIDS"].split()]
WORKER_PIDS = [int(p) for p in os.environ["CLUSTER_WORKER_PIDS"].split()]
WORKER_LOGS = os.environ["CLUSTER_WORKER_LOGS"].split()
MAIL_DIR = os.environ["CLUSTER_MAIL_DIR"]
LEASE_S = int(os.environ["CLUSTER_LEASE_S"])
POLL_S = float(os.environ["CLUSTER_POLL_S"])
PG_CTL = os.environ["CLUSTER_PG_CTL"]

DOMAIN = "lintasarta.co.id"
RUN = str(int(time.time()))
PASSWORD = "Str0ng!Pass-7"
# A killed worker's claims are sent by the other worker once the lease has run
# out and its next poll comes; this much more is allowed for the send itself.
TAKEOVER_MARGIN_S = 5.0
KILL_SETTLE_S = 0.5

passed = 0
failed = 0
figures = collections.OrderedDict()


def say(line):
    print("cluster: " + line, flush=True)


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        say(f"ok    {name}" + (f" ({detail})" if detail else ""))
    else:
        failed += 1
        say(f"FAIL  {name}" + (f": {detail}" if detail else ""))
    return ok


# --- HTTP --------------------------------------------------------------------------


class Response:
    def __init__(self, status, headers, body, t0, t1):
        self.status, self.headers, self.body, self.t0, self.t1 = status, headers, body, t0, t1

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def request(addr, method, path, body=None, headers=None, source=None, timeout=40):
    """One request on a fresh connection (source: the client address to bind,
    e.g. 127.0.1.7, so nginx sees that client). Status 0 = no HTTP answer."""
    h = {"Connection": "close"}
    h.update(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    t0 = time.time()
    conn = http.client.HTTPConnection(addr[0], int(addr[1]), timeout=timeout,
                                      source_address=(source, 0) if source else None)
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        payload = r.read()
        result = Response(r.status, {k.lower(): v for k, v in r.getheaders()}, payload, t0, time.time())
    except (OSError, http.client.HTTPException) as e:
        result = Response(0, {}, str(e).encode(), t0, time.time())
    finally:
        conn.close()
    return result


def signup_body(address):
    return {"full_name": "Cluster Test", "email": address, "password": PASSWORD,
            "phone_number": "0812-3456-7890", "accept_terms": True}


def signup(addr, address, source=None, forwarded_for=None):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else None
    return request(addr, "POST", "/signup", signup_body(address), headers=headers, source=source)


def email_for(phase, n):
    return f"c{RUN}-{phase}-{n}@{DOMAIN}"


class Load:
    """Sign-ups through nginx from many client addresses, `concurrency` at a
    time; each job is (email, client address). Results are kept in order of
    completion; n_created is readable while it runs."""

    def __init__(self, jobs, concurrency):
        self.jobs, self.concurrency = jobs, concurrency
        self.results = []
        self.n_created = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _one(self, job):
        if self.stop.is_set():
            return
        address, source = job
        r = signup(NGINX, address, source=source)
        rec = {"email": address, "source": source, "status": r.status, "upstream": r.headers.get("x-upstream", ""),
               "t0": r.t0, "t1": r.t1, "body": r.body[:300]}
        with self.lock:
            self.results.append(rec)
            if r.status == 201:
                self.n_created += 1

    def run(self):
        with concurrent.futures.ThreadPoolExecutor(self.concurrency) as ex:
            list(ex.map(self._one, self.jobs))
        return self.results

    def start(self):
        self.thread = threading.Thread(target=self.run)
        self.thread.start()
        return self

    def join(self):
        self.thread.join()
        return self.results


def jobs_from(phase, subnet, n_addresses, per_address):
    """per_address sign-ups from each of 127.0.<subnet>.1..n_addresses, so no
    client address goes over RATE_LIMIT_SIGNUPS_PER_IP_HOUR (5)."""
    jobs = []
    for k in range(per_address):
        for a in range(1, n_addresses + 1):
            jobs.append((email_for(phase, len(jobs)), f"127.0.{subnet}.{a}"))
    return jobs


def statuses(results):
    return dict(collections.Counter(r["status"] for r in results))


# --- PostgreSQL and the sink -----------------------------------------------------------


def sql(query):
    p = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query],
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"psql failed: {p.stderr.strip()}")
    return [line.split("\t") for line in p.stdout.splitlines() if line != ""]


def sql_value(query):
    return sql(query)[0][0]


def quote_list(values):
    return ",".join("'" + v.replace("'", "''") + "'" for v in values) or "NULL"


def ledger(emails):
    """email -> (accounts, tokens, verification emails queued) for each
    address; also email -> how often its verification email was claimed."""
    rows = sql(f"""
        SELECT lower(a.email),
               (SELECT count(*) FROM verification_tokens t WHERE t.account_id = a.id),
               (SELECT count(*) FROM email_outbox o WHERE o.account_id = a.id AND o.kind = 'verification'),
               (SELECT coalesce(max(attempts), 0) FROM email_outbox o WHERE o.account_id = a.id)
          FROM accounts a WHERE lower(a.email) IN ({quote_list(emails)})""")
    found = collections.Counter(r[0] for r in rows)
    per = {r[0]: (found[r[0]], int(r[1]), int(r[2])) for r in rows}
    return per, found, {r[0]: int(r[3]) for r in rows}


def delivered_ok(n_delivered, attempts):
    """Exactly once; or, where a claim's outcome was lost (a worker killed,
    or the database gone between SMTP's 250 and the UPDATE) and the row was
    claimed again, at most once per claim: the at-least-once case."""
    return n_delivered == 1 or (attempts > 1 and 1 < n_delivered <= attempts)


class Sink:
    """The .eml files the SMTP sink wrote: one per delivered message."""

    def __init__(self):
        self.seen = {}

    def messages(self):
        parser = email.parser.BytesHeaderParser(policy=email.policy.compat32)
        for name in os.listdir(MAIL_DIR):
            if not name.endswith(".eml") or name in self.seen:
                continue
            path = os.path.join(MAIL_DIR, name)
            with open(path, "rb") as f:
                head = parser.parsebytes(f.read())
            rcpts = [r.strip().lower() for r in head.get_all("X-Envelope-To") or []]
            mid = (head.get("Message-ID") or "").strip().strip("<>")
            self.seen[name] = {"path": path, "rcpts": rcpts, "message_id": mid, "at": os.stat(path).st_mtime}
        return list(self.seen.values())

    def by_recipient(self):
        count = collections.Counter()
        for m in self.messages():
            for r in m["rcpts"]:
                count[r] += 1
        return count

    def wait_for(self, emails, timeout):
        """Waits until every address has at least one message; returns the
        addresses still without one."""
        deadline = time.time() + timeout
        missing = set(emails)
        while missing and time.time() < deadline:
            got = self.by_recipient()
            missing = {e for e in missing if got[e] == 0}
            if missing:
                time.sleep(0.2)
        return missing

    def token_of(self, address):
        for m in self.messages():
            if address in m["rcpts"]:
                with open(m["path"], "rb") as f:
                    msg = email.message_from_bytes(f.read(), policy=email.policy.default)
                for part in msg.walk():
                    if part.get_content_type() == "text/plain":
                        found = re.search(r"token=([A-Za-z0-9_-]+)", part.get_content())
                        if found:
                            return found.group(1)
        return None


sink = Sink()
restart_window = [0.0, 0.0]  # when phase 4 stopped and started PostgreSQL


def wait_outbox_drained(timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if sql_value("SELECT count(*) FROM email_outbox WHERE status IN ('pending', 'sending')") == "0":
            return True
        time.sleep(0.3)
    return False


def check_ledger(name, created):
    """Each address answered 201: one account, one token, one verification
    email queued, and exactly one message delivered to it."""
    per, _, attempts = ledger(created)
    got = sink.by_recipient()
    bad = [e for e in created if per.get(e) != (1, 1, 1) or not delivered_ok(got[e], attempts.get(e, 0))]
    twice = sum(1 for e in created if got[e] > 1)
    check(f"{name}: every 201 has exactly one account, one token and one email delivered"
          " (more only after a lost outcome)",
          not bad, f"{len(created)} sign-ups, {twice} delivered again after a lost outcome" if not bad else
          f"{len(bad)} of {len(created)} wrong, e.g. {bad[0]}: (accounts, tokens, queued) = "
          f"{per.get(bad[0])}, delivered {got[bad[0]]}")


def readyz_all(nodes):
    return all(request(n, "GET", "/readyz", timeout=5).status == 200 for n in nodes)


# --- 1. sign-ups from many addresses -------------------------------------------------------


def phase_signups():
    say("== 1. sign-ups through nginx from 80 client addresses")
    jobs = jobs_from("load", 1, 80, 3)
    t0 = time.time()
    results = Load(jobs, 12).run()
    elapsed = time.time() - t0
    st = statuses(results)
    created = [r["email"] for r in results if r["status"] == 201]
    per_node = collections.Counter(r["upstream"] for r in results if r["status"] == 201)
    check("sign-ups: all 201", st == {201: len(jobs)}, f"{len(jobs)} in {elapsed:.1f} s" if st == {201: len(jobs)}
          else f"statuses {st}")
    check("sign-ups: every node served some", len(per_node) == len(NODES) and min(per_node.values()) > 0,
          ", ".join(f"{k} {v}" for k, v in sorted(per_node.items())))
    missing = sink.wait_for(created, 30)
    check("sign-ups: every email delivered within 30 s", not missing, f"{len(missing)} missing" if missing else "")
    check_ledger("sign-ups", created)
    figures["phase 1 sign-ups"] = f"{len(created)} × 201 in {elapsed:.1f} s ({len(created) / elapsed:.0f}/s)"
    return results


# --- 2. limits across nodes ---------------------------------------------------------------


def phase_limits():
    say("== 2. sign-up limits across nodes (5 per client address, 3 per email address, per hour)")
    results = []
    # Per client address: five through nginx from one address (round robin:
    # they land on different nodes), then the sixth straight to every node,
    # as from that client behind the trusted proxy, and once more via nginx.
    client = "127.0.4.1"
    firsts = [signup(NGINX, email_for("ip", i), source=client) for i in range(5)]
    results += firsts
    served = {r.headers.get("x-upstream") for r in firsts}
    check("per-IP: the first 5 from one address are 201, on more than one node",
          all(r.status == 201 for r in firsts) and len(served) > 1,
          f"statuses {[r.status for r in firsts]}, nodes {sorted(served)}")
    over = [signup(n, email_for("ip", 5 + i), forwarded_for=client) for i, n in enumerate(NODES)]
    over.append(signup(NGINX, email_for("ip", 9), source=client))
    results += over
    check("per-IP: the 6th is 429 with Retry-After on every node and via nginx",
          all(r.status == 429 and "retry-after" in r.headers and (r.json() or {}).get("code") == "rate_limited"
              for r in over), f"statuses {[r.status for r in over]}")

    # Per email address: the same address from three clients, one per node,
    # then a fourth client on every node.
    target = email_for("email", 0)
    firsts = [signup(n, target, forwarded_for=f"127.0.4.{10 + i}") for i, n in enumerate(NODES)]
    results += firsts
    check("per-email: 3 sign-ups of one address from 3 clients on 3 nodes are 201",
          all(r.status == 201 for r in firsts), f"statuses {[r.status for r in firsts]}")
    over = [signup(n, target, forwarded_for="127.0.4.20") for n in NODES]
    results += over
    check("per-email: the 4th is 429 on every node", all(r.status == 429 for r in over),
          f"statuses {[r.status for r in over]}")
    per, _, _ = ledger([target])
    check("per-email: one account for the address", per.get(target, (0,))[0] == 1, f"{per.get(target)}")
    figures["phase 2 limits"] = f"{len(results)} requests, " + ", ".join(
        f"{k} × {v}" for k, v in sorted(collections.Counter(r.status for r in results).items()))
    return len(results)


# --- 3. sessions --------------------------------------------------------------------------


def phase_sessions(address):
    say("== 3. a session made on one node, used and ended on the others")
    token = sink.token_of(address)
    if not check("sessions: the verification link is in the email", token is not None):
        return 0
    r = request(NGINX, "GET", "/verify?token=" + token)
    check("sessions: verified through nginx", r.status == 200 and (r.json() or {}).get("status") == "verified",
          f"{r.status} {r.body[:120]!r}")
    r = request(NODES[0], "POST", "/signin", {"email": address, "password": PASSWORD},
                headers={"X-Forwarded-For": "127.0.5.1"})
    session = (r.json() or {}).get("session_token")
    if not check(f"sessions: signed in on {NODES[0][0]}", r.status == 200 and session, f"{r.status}"):
        return 2
    bearer = {"Authorization": "Bearer " + session}
    seen = [request(n, "GET", "/session", headers=bearer) for n in NODES]
    check("sessions: GET /session answers 200 on every node",
          all(s.status == 200 and (s.json() or {}).get("account", {}).get("email") == address for s in seen),
          f"statuses {[s.status for s in seen]}")
    out = request(NODES[1], "POST", "/signout", headers=bearer)
    check(f"sessions: signed out on {NODES[1][0]}", out.status == 204, f"{out.status}")
    after = [request(n, "GET", "/session", headers=bearer) for n in NODES + [NGINX]]
    check("sessions: right after, GET /session is 401 on every node and via nginx",
          all(s.status == 401 for s in after), f"statuses {[s.status for s in after]}")
    return 4 + 2 * len(NODES) + 1


# --- 4. PostgreSQL restart --------------------------------------------------------------------


def worker_sends_after(offsets):
    """Emails each worker logged as sent after the given log offsets."""
    counts = []
    for path, off in zip(WORKER_LOGS, offsets):
        n = 0
        with open(path, "rb") as f:
            f.seek(off)
            for line in f:
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("event") == "email_send" and ev.get("result") == "sent":
                    n += 1
        counts.append(n)
    return counts


def phase_pg_restart():
    say("== 4. PostgreSQL restarted under load")
    # Runs until 3 s after the nodes are ready again (at most 1000 requests:
    # 250 client addresses x 4, under the per-address limit).
    load = Load(jobs_from("pg", 2, 250, 4), 4).start()
    while load.n_created < 20 and load.thread.is_alive():
        time.sleep(0.1)
    t_down = time.time()
    subprocess.run([PG_CTL, "stop"], check=True)
    t_stopped = time.time()
    time.sleep(2)
    subprocess.run([PG_CTL, "start"], check=True, stdout=subprocess.DEVNULL)
    t_up = time.time()
    restart_window[:] = [t_down, t_up]
    offsets = [os.path.getsize(p) for p in WORKER_LOGS]
    # Ready again, without a restart of any process?
    deadline = t_up + 30
    while time.time() < deadline and not readyz_all(NODES):
        time.sleep(0.2)
    t_ready = time.time()
    time.sleep(3)
    load.stop.set()
    results = load.join()
    check("pg restart: every node ready again by itself", readyz_all(NODES),
          f"{t_ready - t_up:.1f} s after PostgreSQL was back")
    check("pg restart: nodes and workers kept running", all(alive(p) for p in NODE_PIDS + WORKER_PIDS))
    st = statuses(results)
    check("pg restart: every answer under load is 201 or 503 service_unavailable",
          set(st) <= {201, 503}, f"statuses {st}")
    late = [r for r in results if r["t0"] > t_ready]
    check("pg restart: every sign-up started after recovery is 201",
          late and all(r["status"] == 201 for r in late), f"{len(late)} of them")
    # One more straight to every node, and a burst for both workers.
    direct = [signup(n, email_for("pgafter", i), forwarded_for=f"127.0.6.{100 + i}") for i, n in enumerate(NODES)]
    check("pg restart: a sign-up on every node is 201", all(r.status == 201 for r in direct),
          f"statuses {[r.status for r in direct]}")
    burst_results = Load(jobs_from("pgburst", 6, 40, 1), 8).run()
    created = [r["email"] for r in results + burst_results if r["status"] == 201]
    created += [email_for("pgafter", i) for i, r in enumerate(direct) if r.status == 201]
    missing = sink.wait_for(created, 30)
    check("pg restart: every 201 delivered within 30 s", not missing, f"{len(missing)} missing" if missing else "")
    check_ledger("pg restart", created)
    sends = worker_sends_after(offsets)
    check("pg restart: both workers sent mail after the restart", all(n > 0 for n in sends),
          f"emails sent per worker {sends}")
    rejected = [r for r in results if r["status"] == 503]
    figures["phase 4 pg restart"] = (
        f"stop {t_stopped - t_down:.1f} s + 2 s down + start {t_up - t_stopped - 2:.1f} s; nodes ready "
        f"{t_ready - t_up:.1f} s after; {len(results)} requests under load: {st}; the 503s from "
        f"{min((r['t0'] for r in rejected), default=t_down) - t_down:+.1f} s to "
        f"{max((r['t1'] for r in rejected), default=t_down) - t_down:+.1f} s of the stop")
    return len(results) + len(direct) + len(burst_results)


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


# --- 5. kill -9 of a node and a worker under load ----------------------------------------------


def phase_kills():
    say("== 5. kill -9 of one API node and one worker under load")
    victim_node, victim_worker = 1, 0
    victim_addr = f"{NODES[victim_node][0]}:{NODES[victim_node][1]}"
    load = Load(jobs_from("kill", 3, 60, 4), 12).start()
    while load.n_created < 40 and load.thread.is_alive():
        time.sleep(0.05)
    # Pause both workers so mail piles up, then let them drain it and kill
    # one mid-drain: worker 1 sends through the slow relay (20 ms a reply),
    # so it dies holding full batches of claims, part of them already sent.
    for pid in WORKER_PIDS:
        os.kill(pid, signal.SIGSTOP)
    n_at_pause = load.n_created
    deadline = time.time() + 5
    while load.n_created < n_at_pause + 50 and time.time() < deadline:
        time.sleep(0.05)
    os.kill(NODE_PIDS[victim_node], signal.SIGKILL)
    t_kill_node = time.time()
    for pid in WORKER_PIDS:
        os.kill(pid, signal.SIGCONT)
    time.sleep(0.4)
    # Frozen first, so that what it holds cannot change between the look and
    # the kill: its unfinished claims name it as their holder.
    victim_pid = WORKER_PIDS[victim_worker]
    os.kill(victim_pid, signal.SIGSTOP)
    orphans = {r[0] for r in sql(f"SELECT message_id FROM email_outbox WHERE status = 'sending' "
                                 f"AND lease_pid = {victim_pid}")}
    os.kill(victim_pid, signal.SIGKILL)
    t_kill_worker = time.time()
    results = load.join()
    drained = wait_outbox_drained(LEASE_S + 30)
    check("kills: the outbox drained (nothing pending or stuck in 'sending')", drained)

    st = statuses(results)
    # kill() returns before the process has closed its sockets: a request
    # that reached it in the next moments is in flight at the kill too.
    died_by = t_kill_node + KILL_SETTLE_S
    bad_502 = [r for r in results if r["status"] == 502 and not (r["t0"] < died_by and
                                                                   victim_addr in r["upstream"])]
    check("kills: every answer is 201, or 502 for a request in flight on the killed node",
          set(st) <= {201, 502} and not bad_502,
          f"statuses {st}" + "".join(f"; 502 at {r['t0'] - t_kill_node:+.2f} s from {r['upstream'] or '?'}"
                                     for r in bad_502[:3]))
    after = [r for r in results if r["t0"] > died_by]
    check("kills: nginx routes around the dead node (every sign-up started after the kill is 201)",
          after and all(r["status"] == 201 for r in after), f"{len(after)} of them")
    # $upstream_addr lists every node nginx tried, the one that answered last.
    answered = {r["upstream"].split(", ")[-1] for r in after if r["status"] == 201}
    check("kills: the other nodes answered after the kill",
          answered <= {f"{h}:{p}" for h, p in NODES} - {victim_addr}, f"{sorted(answered)}")

    created = [r["email"] for r in results if r["status"] == 201]
    in_flight = [r["email"] for r in results if r["status"] != 201]
    _, found, _ = ledger(in_flight)
    committed_unanswered = [e for e in in_flight if found[e] == 1]
    missing = sink.wait_for(created + committed_unanswered, 5)
    check("kills: every 201 and every committed unanswered sign-up has its email", not missing,
          f"{len(missing)} missing" if missing else f"{len(created)} + {len(committed_unanswered)}")
    per, _, attempts = ledger(created + committed_unanswered)
    got = sink.by_recipient()
    bad = [e for e in created + committed_unanswered
           if per.get(e) != (1, 1, 1) or not delivered_ok(got[e], attempts.get(e, 0))]
    check("kills: one account, one token, one email each (more only for the dead worker's claims)", not bad,
          f"e.g. {bad[0]}: {per.get(bad[0])}, delivered {got[bad[0]]}" if bad else "")

    sent = sql(f"SELECT message_id, extract(epoch FROM sent_at) FROM email_outbox "
               f"WHERE message_id IN ({quote_list(orphans)})") if orphans else []
    last = max((float(s[1]) for s in sent if s[1]), default=t_kill_worker)
    limit = LEASE_S + POLL_S + TAKEOVER_MARGIN_S
    check("kills: the dead worker's claimed emails were sent by the other within the lease",
          orphans and len(sent) == len(orphans) and all(s[1] for s in sent) and last - t_kill_worker <= limit,
          f"{len(orphans)} claims taken over, the last sent {last - t_kill_worker:.1f} s after the kill "
          f"(lease {LEASE_S} s, limit {limit:.0f} s)")
    # Same machine, same pid namespace: the survivor sees in /proc that the
    # holder is gone and does not wait for the lease (README, Email
    # verification), only for its next look, once per OUTBOX_POLL_INTERVAL_MS.
    check("kills: taken over at once, not after the lease (the holder is known to be dead)",
          orphans and last - t_kill_worker < LEASE_S / 2,
          f"{last - t_kill_worker:.1f} s after the kill, poll interval {POLL_S:.0f} s")
    check("kills: the killed processes are gone, the rest still run",
          not alive(NODE_PIDS[victim_node]) and not alive(WORKER_PIDS[victim_worker])
          and all(alive(p) for i, p in enumerate(NODE_PIDS) if i != victim_node)
          and all(alive(p) for i, p in enumerate(WORKER_PIDS) if i != victim_worker))
    figures["phase 5 kills"] = (f"{len(results)} requests: {st}; {len(committed_unanswered)} of "
                                f"{len(in_flight)} unanswered had committed (each has its email); "
                                f"{len(orphans)} claims of the killed worker re-sent after "
                                f"{last - t_kill_worker:.1f} s")
    return orphans, len(results)


# --- 6. the whole run --------------------------------------------------------------------------


def audit(orphans):
    say("== 6. the whole run")
    outbox = sql("SELECT message_id, status FROM email_outbox")
    by_status = collections.Counter(r[1] for r in outbox)
    check("audit: every queued email is sent (none pending, stuck or dead)",
          set(by_status) == {"sent"}, f"{dict(by_status)}")
    delivered = collections.Counter(m["message_id"] for m in sink.messages())
    queued = {r[0] for r in outbox}
    check("audit: the sink's Message-IDs are exactly the outbox's", set(delivered) == queued,
          f"{len(queued)} queued, {len(delivered)} distinct delivered, "
          f"{len(set(delivered) - queued)} unknown, {len(queued - set(delivered))} never delivered")
    # A row claimed more than once lost a claim's outcome: the killed worker's
    # claims, or sends whose UPDATE found the database gone (phase 4).
    rows = sql("SELECT message_id, attempts, extract(epoch FROM created_at) FROM email_outbox WHERE attempts > 1")
    attempts = {r[0]: int(r[1]) for r in rows}
    t_down, t_up = restart_window
    at_restart = {r[0] for r in rows if t_down - 10 <= float(r[2]) <= t_up}
    dups = {m: n for m, n in delivered.items() if n > 1}
    check("audit: an email delivered more than once was claimed again after a lost outcome, "
          "and left at most once per claim",
          all(delivered_ok(n, attempts.get(m, 1)) for m, n in dups.items()),
          f"{len(dups)} such emails" if all(delivered_ok(n, attempts.get(m, 1)) for m, n in dups.items())
          else f"unexpected: {[(m, n, attempts.get(m, 1)) for m, n in dups.items()][:3]}")
    check("audit: emails claimed more than once are only the killed worker's and those in flight "
          "at the PostgreSQL restart", set(attempts) <= orphans | at_restart,
          f"{len(attempts)}: {len(set(attempts) & orphans)} the dead worker's, "
          f"{len(set(attempts) & at_restart)} at the restart" if set(attempts) <= orphans | at_restart
          else f"others: {sorted(set(attempts) - orphans - at_restart)[:3]}")
    no_mail = sql_value("""SELECT count(*) FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM email_outbox o
                            WHERE o.account_id = a.id AND o.kind = 'verification' AND o.status = 'sent')""")
    check("audit: no account without its verification email", no_mail == "0", f"{no_mail} without")
    figures["accounts"] = sql_value("SELECT count(*) FROM accounts")
    figures["emails delivered (.eml files)"] = sum(delivered.values())
    figures["distinct Message-IDs"] = len(delivered)
    figures["duplicates (same Message-ID again)"] = (
        f"{sum(n - 1 for n in dups.values())}: {len(set(dups) & orphans)} of the killed worker's "
        f"{len(orphans)} claims, {len(set(dups) & at_restart)} cut off by the PostgreSQL restart; "
        "0 anywhere else")


def main():
    t0 = time.time()
    n_requests = 0
    try:
        results = phase_signups()
        n_requests += len(results)
        n_requests += phase_limits()
        first = next(r["email"] for r in results if r["status"] == 201)
        n_requests += phase_sessions(first)
        n_requests += phase_pg_restart()
        orphans, n = phase_kills()
        n_requests += n
        audit(orphans)
    except Exception as e:  # a broken step is a failure with its reason, not a traceback alone
        check("the run completed", False, f"{type(e).__name__}: {e}")
        raise
    finally:
        figures["HTTP requests"] = n_requests
        figures["time"] = f"{time.time() - t0:.0f} s"
        say("figures:")
        for k, v in figures.items():
            say(f"  {k}: {v}")
        say(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
