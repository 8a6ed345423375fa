/* Outbox delivery loop. The table is the source of truth: NOTIFY only wakes
 * a worker early, the poll interval catches anything missed, and a lease
 * lets another worker take over rows of one that died mid-send: when the
 * lease runs out, or at once when the holder is known to be dead. Delivery
 * is at least once; a re-sent message keeps its Message-ID. */
#include "outbox_worker.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "db_pool.h"
#include "lease_holder.h"
#include "log.h"
#include "metrics.h"
#include "mime.h"
#include "outbox.h"

struct worker {
    struct outbox_workers *owner;
    pthread_t thread;
    bool is_started;
    int index;
    uint64_t rng; /* backoff jitter; not security-relevant */
};

struct outbox_workers {
    const struct outbox_worker_settings *settings;
    struct lease_holder self;    /* this process, as named in its claims */
    struct outbox_holder holder; /* borrows from self and settings */
    atomic_llong next_sweep_ms;  /* when a worker next looks for dead holders */
    atomic_bool is_instance_swept;
    atomic_bool is_stopping;
    int stop_pipe[2]; /* readable once stopping: wakes every poll() at once */
    int count;
    struct worker *workers;
};

static uint64_t next_random(struct worker *w)
{
    /* xorshift64 */
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

/* Exponential backoff with "equal jitter": half fixed, half random, so a
 * crowd of failed sends does not retry in lock-step. */
static long retry_delay_ms(struct worker *w, int attempts)
{
    const struct outbox_worker_settings *s = w->owner->settings;
    long delay = s->retry_base_ms;
    for (int i = 1; i < attempts && delay < s->retry_max_ms; i++)
        delay *= 2;
    if (delay > s->retry_max_ms)
        delay = s->retry_max_ms;
    return delay / 2 + (long)(next_random(w) % (uint64_t)(delay / 2 + 1));
}

static PGconn *connect_to(const char *conninfo)
{
    char err[512];
    PGconn *conn = db_connect(conninfo, err, sizeof err);
    if (conn == NULL)
        log_event(LOG_LEVEL_WARN, "outbox_db_unavailable", "error", err, LOG_END);
    return conn;
}

static bool listen_on(PGconn *conn)
{
    return db_command(conn, "LISTEN email_outbox", "outbox_listen") == DB_OK;
}

/* The connection claims and updates run on, and the one LISTEN runs on:
 * the same one (PostgreSQL itself), a second, direct one (behind a
 * transaction pooler, which does not carry notifications), or none (then the
 * poll interval alone wakes the worker). */
struct worker_conns {
    PGconn *work;
    PGconn *listen; /* == work, a connection of its own, or NULL */
};

static void close_conns(struct worker_conns *c)
{
    if (c->listen != c->work)
        PQfinish(c->listen);
    PQfinish(c->work);
    c->work = c->listen = NULL;
}

static bool connect_and_listen(const struct outbox_worker_settings *s, struct worker_conns *c)
{
    c->work = connect_to(s->conninfo);
    c->listen = NULL;
    if (c->work == NULL)
        return false;
    if (s->listen_conninfo == NULL) {
        if (!listen_on(c->work)) {
            close_conns(c);
            return false;
        }
        c->listen = c->work;
    } else if (s->listen_conninfo[0] != '\0') {
        c->listen = connect_to(s->listen_conninfo);
        if (c->listen != NULL && !listen_on(c->listen)) {
            PQfinish(c->listen);
            c->listen = NULL; /* polling until the next reconnect */
        }
    }
    return true;
}

/* Sleeps until a notification, the poll interval, or stop. Returns false
 * when the connection broke. */
static bool wait_for_work(struct worker *w, PGconn *conn)
{
    const struct outbox_worker_settings *s = w->owner->settings;
    struct pollfd fds[2] = {{.fd = w->owner->stop_pipe[0], .events = POLLIN}, {.fd = -1, .events = POLLIN}};
    if (conn != NULL)
        fds[1].fd = PQsocket(conn);
    int ready = poll(fds, 2, s->poll_interval_ms);
    if (ready <= 0 || conn == NULL || !(fds[1].revents & (POLLIN | POLLERR | POLLHUP)))
        return true;
    if (!PQconsumeInput(conn))
        return false;
    PGnotify *notify;
    while ((notify = PQnotifies(conn)) != NULL)
        PQfreemem(notify);
    return true;
}

static long long monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static void log_released(const char *reason, const char *holder_pid, long released)
{
    char count[24];
    snprintf(count, sizeof count, "%ld", released);
    log_event(LOG_LEVEL_WARN, "outbox_lease_released", "reason", reason, "holder_pid", holder_pid, "emails", count,
              LOG_END);
}

/* Ends the leases of holders that are certainly dead, so that their emails
 * go out now rather than when the lease runs out (OUTBOX_LEASE_S, long so
 * that a slow send is never taken over). Only proof counts, never silence: a
 * holder in this process's scope whose process is gone, and, once at start,
 * earlier incarnations of this INSTANCE_ID. A holder elsewhere that is slow,
 * frozen or cut off from the database keeps its lease. One worker of the
 * process looks per poll interval. */
static void release_dead_holders(struct worker *w, PGconn *conn)
{
    struct outbox_workers *ws = w->owner;
    const struct outbox_worker_settings *s = ws->settings;
    long long now = monotonic_ms(), due = atomic_load(&ws->next_sweep_ms);
    long released = 0;

    if (now < due || !atomic_compare_exchange_strong(&ws->next_sweep_ms, &due, now + s->poll_interval_ms))
        return;
    if (ws->holder.instance != NULL && !atomic_load(&ws->is_instance_swept) &&
        outbox_release_instance(conn, &ws->holder, &released) == DB_OK) {
        atomic_store(&ws->is_instance_swept, true);
        if (released > 0)
            log_released("previous_incarnation", NULL, released);
    }
    if (!ws->self.can_judge)
        return;
    PGresult *holders = outbox_scope_holders(conn, &ws->holder);
    for (int i = 0; holders != NULL && i < PQntuples(holders); i++) {
        const char *pid = PQgetvalue(holders, i, 0), *start = PQgetvalue(holders, i, 1);
        if (!lease_holder_is_gone(atol(pid), atoll(start)))
            continue;
        if (outbox_release_process(conn, ws->holder.scope, pid, start, &released) != DB_OK)
            break;
        if (released > 0)
            log_released("holder_dead", pid, released);
    }
    PQclear(holders);
}

static void log_email_result(const char *id, const char *attempt_text, const char *result, int code)
{
    char code_text[8];
    snprintf(code_text, sizeof code_text, "%d", code);
    log_event(strcmp(result, "sent") == 0 ? LOG_LEVEL_INFO : LOG_LEVEL_WARN, "email_send", "outbox_id", id, "result",
              result, "attempt", attempt_text, "smtp_code", code_text, LOG_END);
}

/* Records a message that was not accepted: retried later, or dead when the
 * refusal was permanent or attempts ran out. attempt_text is the claimed
 * attempts value. Returns false when the database failed. */
static bool record_failure(struct worker *w, PGconn *conn, const char *id, const char *attempt_text,
                           const struct smtp_outgoing *out, const char *session_error)
{
    const struct outbox_worker_settings *s = w->owner->settings;
    int attempts = atoi(attempt_text);
    char error[400];
    const char *result;
    enum db_status status;

    snprintf(error, sizeof error, "%s%s%s", out->code ? out->detail : "", out->code ? "" : "no reply: ",
             out->code ? "" : (session_error[0] ? session_error : "session failed"));
    if (out->is_permanent || attempts >= s->max_attempts) {
        status = outbox_mark_dead(conn, id, attempt_text, error);
        result = "dead";
        metrics_record_email(METRICS_EMAIL_DEAD);
    } else {
        status = outbox_mark_retry(conn, id, attempt_text, retry_delay_ms(w, attempts), error);
        result = "retry";
        metrics_record_email(METRICS_EMAIL_RETRY);
    }
    log_email_result(id, attempt_text, result, out->code);
    return status == DB_OK;
}

static bool is_accepted(const struct smtp_outgoing *out)
{
    return out->code >= 200 && out->code < 300;
}

static enum mime_template template_of(const char *kind)
{
    static const struct {
        const char *kind;
        enum mime_template template_kind;
    } TEMPLATES[] = {
        {OUTBOX_KIND_VERIFICATION, MIME_TEMPLATE_VERIFICATION},
        {OUTBOX_KIND_SIGNIN_ATTEMPTS, MIME_TEMPLATE_SIGNIN_ATTEMPTS},
        {OUTBOX_KIND_PASSWORD_RESET, MIME_TEMPLATE_PASSWORD_RESET},
        {OUTBOX_KIND_PASSWORD_CHANGED, MIME_TEMPLATE_PASSWORD_CHANGED},
    };
    for (size_t i = 0; i < sizeof TEMPLATES / sizeof TEMPLATES[0]; i++) {
        if (strcmp(kind, TEMPLATES[i].kind) == 0)
            return TEMPLATES[i].template_kind;
    }
    return MIME_TEMPLATE_ALREADY_REGISTERED;
}

static char *build_message(const struct outbox_worker_settings *s, PGresult *rows, int row)
{
    enum mime_template template_kind = template_of(PQgetvalue(rows, row, OUTBOX_COL_KIND));
    struct mime_message msg = {
        .template_kind = template_kind,
        .from = s->mail_from,
        .to_address = PQgetvalue(rows, row, OUTBOX_COL_RECIPIENT),
        .to_name = PQgetvalue(rows, row, OUTBOX_COL_RECIPIENT_NAME),
        .message_id = PQgetvalue(rows, row, OUTBOX_COL_MESSAGE_ID),
        .verify_link = PQgetvalue(rows, row, OUTBOX_COL_VERIFY_LINK),
        .link_ttl_s = template_kind == MIME_TEMPLATE_PASSWORD_RESET ? s->reset_link_ttl_s : s->link_ttl_s,
        .changed_at = (time_t)atoll(PQgetvalue(rows, row, OUTBOX_COL_CREATED_AT)),
        .sign_in_url = s->sign_in_url[0] ? s->sign_in_url : NULL,
        .forgot_url = s->forgot_url[0] ? s->forgot_url : NULL,
        .date = time(NULL),
        .boundary_seed = PQgetvalue(rows, row, OUTBOX_COL_MESSAGE_ID),
    };
    return mime_build(&msg);
}

/* Claims and sends one batch. Returns the number of rows claimed, or -1
 * when the database connection failed. */
static int deliver_batch(struct worker *w, PGconn *conn)
{
    const struct outbox_worker_settings *s = w->owner->settings;
    struct smtp_outgoing *outgoing = NULL;
    char **texts = NULL;
    char session_error[256] = "";
    int claimed, sendable = 0, result = -1;
    int *rows_of = NULL;
    const char **sent_ids = NULL, **sent_attempts = NULL;

    release_dead_holders(w, conn);
    PGresult *rows = outbox_claim(conn, s->batch_size, s->lease_s, &w->owner->holder);
    if (rows == NULL)
        return -1;
    claimed = PQntuples(rows);
    if (claimed == 0) {
        PQclear(rows);
        return 0;
    }
    outgoing = calloc((size_t)claimed, sizeof *outgoing);
    texts = calloc((size_t)claimed, sizeof *texts);
    rows_of = calloc((size_t)claimed, sizeof *rows_of);
    sent_ids = calloc((size_t)claimed, sizeof *sent_ids);
    sent_attempts = calloc((size_t)claimed, sizeof *sent_attempts);
    if (outgoing == NULL || texts == NULL || rows_of == NULL || sent_ids == NULL || sent_attempts == NULL)
        goto cleanup; /* the lease expires and the rows are claimed again */

    for (int i = 0; i < claimed; i++) {
        texts[i] = build_message(s, rows, i);
        if (texts[i] == NULL) {
            /* Only unusable stored data gets here (e.g. CR/LF in a name), and
             * retrying cannot fix it. */
            struct smtp_outgoing failed = {.code = 554, .is_permanent = true};
            snprintf(failed.detail, sizeof failed.detail, "554 message could not be built");
            if (!record_failure(w, conn, PQgetvalue(rows, i, OUTBOX_COL_ID), PQgetvalue(rows, i, OUTBOX_COL_ATTEMPTS),
                                &failed, ""))
                goto cleanup;
            continue;
        }
        outgoing[sendable].recipient = PQgetvalue(rows, i, OUTBOX_COL_RECIPIENT);
        outgoing[sendable].message = texts[i];
        rows_of[sendable] = i;
        sendable++;
    }
    if (sendable > 0) {
        smtp_send_batch(&s->smtp, outgoing, (size_t)sendable, session_error, sizeof session_error);
        if (session_error[0] != '\0')
            log_event(LOG_LEVEL_WARN, "smtp_session_failed", "error", session_error, LOG_END);
    }
    /* Accepted messages are marked sent together (one commit per batch, not
     * one per email); the rare refusals one by one. */
    int accepted = 0;
    for (int k = 0; k < sendable; k++) {
        int i = rows_of[k];
        if (!is_accepted(&outgoing[k])) {
            if (!record_failure(w, conn, PQgetvalue(rows, i, OUTBOX_COL_ID), PQgetvalue(rows, i, OUTBOX_COL_ATTEMPTS),
                                &outgoing[k], session_error))
                goto cleanup;
            continue;
        }
        sent_ids[accepted] = PQgetvalue(rows, i, OUTBOX_COL_ID);
        sent_attempts[accepted] = PQgetvalue(rows, i, OUTBOX_COL_ATTEMPTS);
        accepted++;
    }
    if (accepted > 0) {
        if (outbox_mark_sent(conn, sent_ids, sent_attempts, (size_t)accepted) != DB_OK)
            goto cleanup; /* the lease expires and they are sent again (at least once) */
        for (int k = 0; k < sendable; k++) {
            if (!is_accepted(&outgoing[k]))
                continue;
            int i = rows_of[k];
            metrics_record_email(METRICS_EMAIL_SENT);
            log_email_result(PQgetvalue(rows, i, OUTBOX_COL_ID), PQgetvalue(rows, i, OUTBOX_COL_ATTEMPTS), "sent",
                             outgoing[k].code);
        }
    }
    result = claimed;

cleanup:
    for (int i = 0; texts != NULL && i < claimed; i++)
        free(texts[i]);
    free(texts);
    free(outgoing);
    free(rows_of);
    free(sent_ids);
    free(sent_attempts);
    PQclear(rows);
    return result;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct outbox_worker_settings *s = w->owner->settings;
    struct worker_conns conns = {NULL, NULL};

    while (!atomic_load(&w->owner->is_stopping)) {
        if (conns.work == NULL && !connect_and_listen(s, &conns)) {
            wait_for_work(w, NULL);
            continue;
        }
        int claimed = deliver_batch(w, conns.work);
        if (claimed < 0 || PQstatus(conns.work) != CONNECTION_OK) {
            close_conns(&conns);
            continue;
        }
        if (claimed == s->batch_size)
            continue; /* there may be more due right now */
        if (!wait_for_work(w, conns.listen)) {
            /* The listening connection broke; a separate one is reopened
             * with the work connection on the next round. */
            close_conns(&conns);
        }
    }
    close_conns(&conns);
    return NULL;
}

struct outbox_workers *outbox_workers_start(const struct outbox_worker_settings *settings, int count)
{
    struct outbox_workers *ws = calloc(1, sizeof *ws);
    if (ws == NULL)
        return NULL;
    ws->settings = settings;
    lease_holder_describe_self(&ws->self);
    ws->holder = (struct outbox_holder){
        .instance = settings->instance_id[0] != '\0' ? settings->instance_id : NULL,
        .scope = ws->self.scope,
        .pid = ws->self.pid,
        .start = ws->self.start,
    };
    if (!ws->self.can_judge)
        log_event(LOG_LEVEL_WARN, "outbox_dead_holder_check_unavailable", "reason",
                  "no consistent /proc: claims of dead workers wait for their lease to run out", LOG_END);
    atomic_init(&ws->next_sweep_ms, 0);
    atomic_init(&ws->is_instance_swept, false);
    atomic_init(&ws->is_stopping, false);
    ws->workers = calloc((size_t)(count > 0 ? count : 1), sizeof *ws->workers);
    if (ws->workers == NULL || pipe(ws->stop_pipe) != 0) {
        free(ws->workers);
        free(ws);
        return NULL;
    }
    for (int i = 0; i < count; i++) {
        struct worker *w = &ws->workers[i];
        w->owner = ws;
        w->index = i;
        if (getrandom(&w->rng, sizeof w->rng, 0) != sizeof w->rng || w->rng == 0)
            w->rng = (uint64_t)time(NULL) * 2654435761u + (uint64_t)i + 1;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            log_event(LOG_LEVEL_ERROR, "outbox_worker_start_failed", "error", strerror(errno), LOG_END);
            outbox_workers_stop(ws);
            return NULL;
        }
        w->is_started = true;
        ws->count = i + 1;
    }
    return ws;
}

void outbox_workers_stop(struct outbox_workers *ws)
{
    if (ws == NULL)
        return;
    atomic_store(&ws->is_stopping, true);
    ssize_t written = write(ws->stop_pipe[1], "x", 1);
    (void)written; /* even if it failed, workers see the flag within one poll interval */
    for (int i = 0; i < ws->count; i++) {
        if (ws->workers[i].is_started)
            pthread_join(ws->workers[i].thread, NULL);
    }
    close(ws->stop_pipe[0]);
    close(ws->stop_pipe[1]);
    free(ws->workers);
    free(ws);
}
