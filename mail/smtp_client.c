/* SMTP delivery through libESMTP. Status codes are read per recipient and
 * per message, because a session that "succeeded" may still have had a
 * message or recipient refused. */
#include "smtp_client.h"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
/* libesmtp.h uses size_t without including stddef.h, and declares
 * smtp_auth_set_context only when auth-client.h came first. */
#include <stddef.h>
#include <auth-client.h>
#include <libesmtp.h>

void smtp_client_global_init(void)
{
    auth_client_init();
}

void smtp_client_global_cleanup(void)
{
    auth_client_exit();
}

/* Answers libESMTP's AUTH prompts from the settings (never from globals, so
 * concurrent sessions in other threads are safe). */
static int fill_credentials(auth_client_request_t request, char **result, int fields, void *arg)
{
    const struct smtp_settings *settings = arg;
    for (int i = 0; i < fields; i++) {
        if (request[i].flags & AUTH_USER)
            result[i] = (char *)settings->username;
        else if (request[i].flags & AUTH_PASS)
            result[i] = (char *)settings->password;
        else
            result[i] = (char *)"";
    }
    return 1;
}

static void set_timeouts(smtp_session_t session, long ms)
{
    static const int STEPS[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA, Timeout_TRANSFER, Timeout_DATA2};
    /* Values are milliseconds; without the flag libESMTP raises them to the
     * RFC minimums of several minutes. */
    for (size_t i = 0; i < sizeof STEPS / sizeof STEPS[0]; i++)
        smtp_set_timeout(session, STEPS[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, ms);
}

/* libESMTP writes a message through a 2 KiB buffer, so every message longer
 * than that leaves the client as several small writes. With Nagle's algorithm
 * on, each write after the first waits for the server to acknowledge the
 * previous one, and servers delay that ACK (Linux: up to 40 ms) because they
 * have nothing to answer until the final dot: measured, 45 ms per message and
 * 37 messages/s from two workers. libESMTP neither sets TCP_NODELAY nor exposes
 * its socket, so when it reports SMTP_EV_CONNECT (right after connect(), in
 * this thread) every TCP socket of the process whose peer is the SMTP port and
 * that still has Nagle on gets TCP_NODELAY. Hitting another thread's socket to
 * the same port is harmless: it is libESMTP's too, or wants the same. */
static void set_nodelay_on_smtp_sockets(long smtp_port)
{
    DIR *fds = opendir("/proc/self/fd");
    if (fds == NULL)
        return; /* no /proc: mail still flows, only slower */
    int dir_fd = dirfd(fds);
    const struct dirent *entry;
    while ((entry = readdir(fds)) != NULL) {
        char *end;
        long fd = strtol(entry->d_name, &end, 10);
        if (*end != '\0' || end == entry->d_name || fd == dir_fd)
            continue;
        struct stat st;
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int nodelay = 0;
        socklen_t opt_len = sizeof nodelay;
        if (fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
            getpeername((int)fd, (struct sockaddr *)&peer, &peer_len) != 0)
            continue;
        in_port_t port;
        if (peer.ss_family == AF_INET)
            port = ((const struct sockaddr_in *)&peer)->sin_port;
        else if (peer.ss_family == AF_INET6)
            port = ((const struct sockaddr_in6 *)&peer)->sin6_port;
        else
            continue;
        if (ntohs(port) != smtp_port ||
            getsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &opt_len) != 0 || nodelay)
            continue;
        nodelay = 1;
        (void)setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, sizeof nodelay);
    }
    closedir(fds);
}

static void on_session_event(smtp_session_t session, int event, void *arg, ...)
{
    (void)session;
    if (event == SMTP_EV_CONNECT)
        set_nodelay_on_smtp_sockets(((const struct smtp_settings *)arg)->port);
}

static void copy_status(struct smtp_outgoing *out, const smtp_status_t *status, bool can_be_permanent)
{
    out->code = status ? status->code : 0;
    out->is_permanent = can_be_permanent && out->code >= 500 && out->code < 600;
    snprintf(out->detail, sizeof out->detail, "%d %s", out->code, status && status->text ? status->text : "");
    out->detail[strcspn(out->detail, "\r\n")] = '\0';
}

bool smtp_send_batch(const struct smtp_settings *settings, struct smtp_outgoing *messages, size_t n,
                     char *session_error, size_t session_error_size)
{
    smtp_session_t session = NULL;
    auth_context_t auth = NULL;
    smtp_message_t *handles = NULL;
    smtp_recipient_t *recipients = NULL;
    char server[300];
    bool is_ok = false;

    session_error[0] = '\0';
    if (n == 0)
        return true;
    session = smtp_create_session();
    for (size_t i = 0; i < n; i++) {
        messages[i].code = 0;
        snprintf(messages[i].detail, sizeof messages[i].detail, "not attempted");
    }
    handles = calloc(n, sizeof(smtp_message_t));
    recipients = calloc(n, sizeof(smtp_recipient_t));
    if (session == NULL || handles == NULL || recipients == NULL) {
        snprintf(session_error, session_error_size, "out of memory");
        goto cleanup;
    }
    snprintf(server, sizeof server, "%s:%ld", settings->host, settings->port);
    smtp_set_server(session, server);
    set_timeouts(session, settings->timeout_ms);
    smtp_set_eventcb(session, on_session_event, (void *)settings);
    smtp_starttls_enable(session, settings->tls == SMTP_TLS_REQUIRED   ? Starttls_REQUIRED
                                  : settings->tls == SMTP_TLS_STARTTLS ? Starttls_ENABLED
                                                                       : Starttls_DISABLED);
    if (settings->username[0] != '\0') {
        auth = auth_create_context();
        auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
        auth_set_interact_cb(auth, fill_credentials, (void *)settings);
        smtp_auth_set_context(session, auth);
    }
    for (size_t i = 0; i < n; i++) {
        handles[i] = smtp_add_message(session);
        smtp_set_reverse_path(handles[i], settings->envelope_from);
        /* Borrowed, not copied: messages[i].message outlives the session. */
        smtp_set_message_str(handles[i], (void *)messages[i].message);
        recipients[i] = smtp_add_recipient(handles[i], messages[i].recipient);
    }

    is_ok = smtp_start_session(session) != 0;
    if (!is_ok) {
        char reason[200];
        int err = smtp_errno();
        snprintf(session_error, session_error_size, "%s", smtp_strerror(err, reason, sizeof reason) ? reason : "?");
    }
    /* Status pointers live until the next libESMTP call: copy them now. */
    for (size_t i = 0; i < n; i++) {
        const smtp_status_t *to = smtp_recipient_status(recipients[i]);
        const smtp_status_t *from = smtp_reverse_path_status(handles[i]);
        if (from != NULL && from->code >= 400)
            copy_status(&messages[i], from, false); /* MAIL FROM refused */
        else if (to != NULL && to->code >= 400)
            copy_status(&messages[i], to, true); /* RCPT TO refused */
        else
            copy_status(&messages[i], smtp_message_transfer_status(handles[i]), true);
    }
    /* Why nothing was answered (refused connection, failed AUTH or TLS). */
    if (session_error[0] == '\0') {
        int err = smtp_errno();
        char reason[200];
        for (size_t i = 0; i < n && err != 0; i++) {
            if (messages[i].code == 0) {
                snprintf(session_error, session_error_size, "%s",
                         smtp_strerror(err, reason, sizeof reason) ? reason : "session failed");
                break;
            }
        }
    }

cleanup:
    if (session != NULL)
        smtp_destroy_session(session);
    if (auth != NULL)
        auth_destroy_context(auth);
    free(handles);
    free(recipients);
    return is_ok;
}
