/* smtp_client: delivers already-built messages over SMTP with libESMTP,
 * several per session, and reports each message's fate separately. */
#ifndef SIGNUP_SMTP_CLIENT_H
#define SIGNUP_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"

/* All borrowed; strings must outlive the call. */
struct smtp_settings {
    const char *host;
    long port;
    const char *username; /* "" = no AUTH */
    const char *password;
    enum smtp_tls_mode tls;
    long timeout_ms;           /* per protocol step; connect() itself has no timeout in libESMTP */
    const char *envelope_from; /* MAIL FROM address */
};

struct smtp_outgoing {
    const char *recipient; /* RCPT TO address */
    const char *message;   /* RFC 5322 text, CRLF line ends */
    /* Out: the server's reply code for this message, or 0 when it was never
     * answered, and whether retrying cannot help: only a 5xx refusal of this
     * recipient or this message is permanent. A 5xx to MAIL FROM (bad sender,
     * authentication required) is the server's verdict on our configuration,
     * not on the email, so it stays retryable. */
    int code;
    bool is_permanent;
    char detail[256];
};

/* Once per process, before any thread sends (SASL plug-ins), and at exit. */
void smtp_client_global_init(void);
void smtp_client_global_cleanup(void);

/* Sends n messages in one session. Returns false when the session itself
 * failed (connect, greeting, TLS, AUTH, dropped connection), with the reason
 * in session_error; messages answered before the failure keep their codes. */
bool smtp_send_batch(const struct smtp_settings *settings, struct smtp_outgoing *messages, size_t n,
                     char *session_error, size_t session_error_size);

#endif
