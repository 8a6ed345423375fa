/* mime: builds the RFC 5322 / MIME messages the service sends: UTF-8,
 * multipart/alternative (text/plain + text/html), quoted-printable bodies,
 * CRLF line ends, no line over 998 octets, RFC 2047 display names. */
#ifndef SIGNUP_MIME_H
#define SIGNUP_MIME_H

#include <stddef.h>
#include <time.h>

enum mime_template {
    MIME_TEMPLATE_VERIFICATION,       /* "Verify your email address": button + raw link */
    MIME_TEMPLATE_ALREADY_REGISTERED, /* "someone tried to sign up with your address" notice */
    MIME_TEMPLATE_SIGNIN_ATTEMPTS,    /* "someone is trying to sign in to your account" notice */
};

/* All strings borrowed, UTF-8, NUL-terminated. */
struct mime_message {
    enum mime_template template_kind;
    const char *from;           /* "addr" or "Display Name <addr>" (MAIL_FROM) */
    const char *to_address;     /* bare address */
    const char *to_name;        /* full name; may be non-ASCII; may be NULL or "" */
    const char *message_id;     /* without angle brackets, e.g. "42.abcd@example.com" */
    const char *verify_link;    /* VERIFICATION only: the full https?://…?token=… URL */
    long link_ttl_s;            /* VERIFICATION only: shown as "expires in N hours" */
    const char *sign_in_url;    /* the two notices only: may be NULL */
    time_t date;                /* Date: header */
    const char *boundary_seed;  /* unique text to derive the MIME boundary from (e.g. message_id) */
};

/* Returns the whole message (headers, blank line, body) as a new
 * NUL-terminated string; caller free()s it. NULL on out-of-memory, when a
 * header value contains CR or LF (header injection), when from, to_address or
 * message_id is missing or not a plain address (one '@', printable ASCII, no
 * spaces or specials), or when a link is not an http(s) URL. */
char *mime_build(const struct mime_message *msg) __attribute__((warn_unused_result));

/* Lower-level pieces, exposed for the tests and for reuse. */

/* The helpers below require non-NULL text. */

/* RFC 2047 "encoded-word" form of text for use in a header phrase: text
 * itself (quoted if it holds specials) when it is printable ASCII, else one
 * or more =?UTF-8?B?...?= words of at most 75 characters, separated by
 * CRLF SP folding. New string; caller free()s. NULL on out-of-memory. */
char *mime_encode_header_phrase(const char *text) __attribute__((warn_unused_result));

/* Quoted-printable (RFC 2045) encoding of text whose lines end in "\n":
 * output lines end in CRLF and are at most 76 characters (soft breaks "=").
 * New string; caller free()s. */
char *mime_quoted_printable(const char *text) __attribute__((warn_unused_result));

/* HTML-escapes & < > " ' . New string; caller free()s. */
char *mime_html_escape(const char *text) __attribute__((warn_unused_result));

#endif
