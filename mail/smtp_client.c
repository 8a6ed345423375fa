/* SMTP delivery through libESMTP. Status codes are read per recipient and
 * per message, because a session that "succeeded" may still have had a
 * message or recipient refused. */
#include "smtp_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
