/* The emails we send, as complete RFC 5322 messages: checked ASCII headers
 * (RFC 2047 for non-ASCII names), and a multipart/alternative body whose plain
 * text and HTML parts are quoted-printable, so every line is CRLF and short. */
#include "mime.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* RFC 2045: encoded lines are at most 76 characters, counting a soft break's '='. */
#define MIME_QP_LINE_MAX 76
/* 45 bytes are 60 base64 characters; with "=?UTF-8?B?" and "?=" a word is 72
 * characters, so "From: " plus one word still fits a 78-character line. */
#define MIME_WORD_MAX_BYTES 45
#define MIME_PHRASE_LINE_MAX 72
#define MIME_HEADER_LINE_TARGET 78
/* RFC 5321 path limit; also keeps every header line far below 998 octets. */
#define MIME_ADDRESS_MAX 254
#define MIME_SEED_CHARS_MAX 40

/* A growing NUL-terminated string. After a failed allocation it stays
 * failed and ignores further appends, so builders check once at the end. */
struct mime_buf {
    char *data;
    size_t len;
    size_t cap;
    bool has_failed;
};

static bool buf_reserve(struct mime_buf *b, size_t extra)
{
    size_t cap = b->cap == 0 ? 256 : b->cap;

    if (b->has_failed)
        return false;
    if (extra >= SIZE_MAX - b->len)
        goto failed;
    while (cap - b->len <= extra) {
        if (cap > SIZE_MAX / 2)
            goto failed;
        cap *= 2;
    }
    if (cap != b->cap) {
        char *grown = realloc(b->data, cap);
        if (grown == NULL)
            goto failed;
        b->data = grown;
        b->cap = cap;
    }
    return true;

failed:
    b->has_failed = true;
    return false;
}

static void buf_append(struct mime_buf *b, const char *s, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(struct mime_buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

static void buf_printf(struct mime_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void buf_printf(struct mime_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->has_failed = true;
        return;
    }
    if (!buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Returns the text (caller free()s it) or NULL when an append failed; b is
 * left empty either way. */
static char *buf_finish(struct mime_buf *b)
{
    char *text;

    buf_append(b, "", 0); /* an empty result is still a string */
    if (b->has_failed) {
        free(b->data);
        text = NULL;
    } else {
        text = b->data;
    }
    memset(b, 0, sizeof *b);
    return text;
}

static const char HEX_UPPER[] = "0123456789ABCDEF";

static bool is_qp_literal(unsigned char c)
{
    return c >= 33 && c <= 126 && c != '=';
}

/* One input byte as QP: itself, or "=XX". Spaces and tabs are escaped at the
 * end of a line because transports strip trailing whitespace; a '.' that
 * starts a line is escaped so a broken SMTP client cannot end the message on
 * a lone ".". */
static size_t qp_token(unsigned char c, bool is_line_start, bool is_line_end, char token[3])
{
    bool is_literal = is_qp_literal(c) || ((c == ' ' || c == '\t') && !is_line_end);
    if (is_literal && !(c == '.' && is_line_start)) {
        token[0] = (char)c;
        return 1;
    }
    token[0] = '=';
    token[1] = HEX_UPPER[c >> 4];
    token[2] = HEX_UPPER[c & 0x0F];
    return 3;
}

char *mime_quoted_printable(const char *text)
{
    struct mime_buf out = {0};
    size_t col = 0;

    for (const unsigned char *p = (const unsigned char *)text; *p != '\0'; p++) {
        char token[3];
        size_t token_len;
        bool is_line_end = p[1] == '\n' || p[1] == '\0';
        /* The last token of a line may use column 76; any other must leave
         * room for the soft break's '='. Tokens are placed whole, so a soft
         * break never splits an "=XX". */
        size_t limit = is_line_end ? MIME_QP_LINE_MAX : MIME_QP_LINE_MAX - 1;

        if (*p == '\n') {
            buf_puts(&out, "\r\n");
            col = 0;
            continue;
        }
        token_len = qp_token(*p, col == 0, is_line_end, token);
        if (col + token_len > limit) {
            buf_puts(&out, "=\r\n");
            col = 0;
            token_len = qp_token(*p, true, is_line_end, token);
        }
        buf_append(&out, token, token_len);
        col += token_len;
    }
    return buf_finish(&out);
}

char *mime_html_escape(const char *text)
{
    struct mime_buf out = {0};

    for (const char *p = text; *p != '\0'; p++) {
        switch (*p) {
        case '&':
            buf_puts(&out, "&amp;");
            break;
        case '<':
            buf_puts(&out, "&lt;");
            break;
        case '>':
            buf_puts(&out, "&gt;");
            break;
        case '"':
            buf_puts(&out, "&quot;");
            break;
        case '\'':
            buf_puts(&out, "&#39;");
            break;
        default:
            buf_append(&out, p, 1);
        }
    }
    return buf_finish(&out);
}

static void append_base64(struct mime_buf *out, const unsigned char *in, size_t len)
{
    static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < len; i += 3) {
        uint32_t group = (uint32_t)in[i] << 16;
        char quad[4];
        if (i + 1 < len)
            group |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            group |= in[i + 2];
        quad[0] = ALPHABET[(group >> 18) & 0x3F];
        quad[1] = ALPHABET[(group >> 12) & 0x3F];
        quad[2] = i + 1 < len ? ALPHABET[(group >> 6) & 0x3F] : '=';
        quad[3] = i + 2 < len ? ALPHABET[group & 0x3F] : '=';
        buf_append(out, quad, 4);
    }
}

/* Length of the UTF-8 sequence starting at s (1 for a stray byte), so an
 * encoded word never ends inside a character: RFC 2047 section 5 requires
 * each word to hold whole characters. */
static size_t utf8_sequence_length(const unsigned char *s)
{
    size_t want = 1;
    size_t len = 1;

    if ((s[0] & 0xE0) == 0xC0)
        want = 2;
    else if ((s[0] & 0xF0) == 0xE0)
        want = 3;
    else if ((s[0] & 0xF8) == 0xF0)
        want = 4;
    while (len < want && (s[len] & 0xC0) == 0x80)
        len++;
    return len;
}

static void append_encoded_words(struct mime_buf *out, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;

    while (*p != '\0') {
        size_t n = 0, after_space = 0;
        while (p[n] != '\0') {
            size_t seq = utf8_sequence_length(p + n);
            if (n + seq > MIME_WORD_MAX_BYTES)
                break;
            n += seq;
            if (p[n - 1] == ' ')
                after_space = n;
        }
        /* Readers must ignore the space between two encoded words (RFC 2047
         * section 6.2), but some (Python's email before gh-128110) show one.
         * Ending a word just after a real space keeps such a reader from
         * splitting a name in the middle of a word. */
        if (p[n] != '\0' && after_space > 0)
            n = after_space;
        if (p != (const unsigned char *)text)
            buf_puts(out, "\r\n "); /* the folding between words is not part of the name */
        buf_puts(out, "=?UTF-8?B?");
        append_base64(out, p, n);
        buf_puts(out, "?=");
        p += n;
    }
}

/* RFC 5322 atext: what an unquoted atom may hold. */
static bool is_atext(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c) != NULL);
}

static bool is_printable_ascii(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p < 0x20 || *p > 0x7E)
            return false;
    }
    return true;
}

/* True when text can go out as a bare phrase of atoms. "=?" forces quotes so a
 * name cannot pose as an encoded word and be decoded into something else. */
static bool is_plain_phrase(const char *text)
{
    size_t len = strlen(text);

    if (len == 0 || text[0] == ' ' || text[len - 1] == ' ' || strstr(text, "  ") != NULL || strstr(text, "=?") != NULL)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != ' ' && !is_atext((unsigned char)text[i]))
            return false;
    }
    return true;
}

/* Appends s folded before spaces so lines stay within MIME_PHRASE_LINE_MAX.
 * Returns false (appending nothing) when some word is too long for that. */
static bool append_folded(struct mime_buf *out, const char *s)
{
    size_t line_len = 0;

    /* Checked first so nothing is appended when folding cannot work. */
    for (const char *p = s; *p != '\0';) {
        size_t chunk = strcspn(p + 1, " ") + 1;
        if (chunk > MIME_PHRASE_LINE_MAX)
            return false;
        p += chunk;
    }
    for (const char *p = s; *p != '\0';) {
        size_t chunk = strcspn(p + 1, " ") + 1;
        /* Fold only before a space followed by text: a folded line may not be
         * whitespace only (RFC 5322 section 3.2.2). */
        if (line_len > 0 && line_len + chunk > MIME_PHRASE_LINE_MAX && *p == ' ' && chunk > 1) {
            buf_puts(out, "\r\n");
            line_len = 0;
        }
        buf_append(out, p, chunk);
        line_len += chunk;
        p += chunk;
    }
    return true;
}

char *mime_encode_header_phrase(const char *text)
{
    struct mime_buf out = {0};
    struct mime_buf quoted = {0};
    char *quoted_text = NULL;
    char *phrase = NULL;

    if (!is_printable_ascii(text)) {
        append_encoded_words(&out, text);
        phrase = buf_finish(&out);
        goto cleanup;
    }
    if (is_plain_phrase(text)) {
        buf_puts(&quoted, text);
    } else {
        buf_puts(&quoted, "\"");
        for (const char *p = text; *p != '\0'; p++) {
            if (*p == '"' || *p == '\\')
                buf_puts(&quoted, "\\");
            buf_append(&quoted, p, 1);
        }
        buf_puts(&quoted, "\"");
    }
    quoted_text = buf_finish(&quoted);
    if (quoted_text == NULL)
        goto cleanup;
    /* A long run without spaces cannot be folded; encoded words always can. */
    if (!append_folded(&out, quoted_text))
        append_encoded_words(&out, text);
    phrase = buf_finish(&out);

cleanup:
    free(quoted_text);
    free(out.data);
    return phrase;
}

/* An address or Message-ID we are willing to put in a header: printable
 * ASCII with one '@' and none of the RFC 5322 specials that could start a
 * comment, a group, a second address or a quoted string. */
static bool is_safe_addr_spec(const char *s, size_t len)
{
    size_t ats = 0;

    if (len == 0 || len > MIME_ADDRESS_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7F || strchr("()<>[]:;,\\\"", c) != NULL)
            return false;
        if (c == '@')
            ats++;
    }
    return ats == 1 && s[0] != '@' && s[len - 1] != '@';
}

static bool has_line_break(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* Links go into href attributes, so only http(s) URLs of printable ASCII
 * without spaces: no "javascript:", nothing that could end the line early. */
static bool is_safe_link(const char *s)
{
    if (s == NULL || (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p <= 0x20 || *p >= 0x7F)
            return false;
    }
    return true;
}

static bool has_text(const char *s)
{
    return s != NULL && s[strspn(s, " ")] != '\0';
}

/* Appends "Name: phrase <addr>" (or the bare address when there is no phrase),
 * moving "<addr>" to a folded line when it would pass 78 characters. */
static bool append_address_header(struct mime_buf *out, const char *name, const char *display, const char *addr,
                                  size_t addr_len)
{
    char *phrase = NULL;
    const char *last_line;
    size_t line_len;
    bool is_done = false;

    if (display == NULL || display[0] == '\0') {
        buf_printf(out, "%s: %.*s\r\n", name, (int)addr_len, addr);
        is_done = true;
        goto cleanup;
    }
    phrase = mime_encode_header_phrase(display);
    if (phrase == NULL)
        goto cleanup;
    last_line = strrchr(phrase, '\n');
    line_len = last_line == NULL ? strlen(name) + 2 + strlen(phrase) : strlen(last_line + 1);
    buf_printf(out, "%s: %s%s<%.*s>\r\n", name, phrase,
               line_len + addr_len + 3 > MIME_HEADER_LINE_TARGET ? "\r\n " : " ", (int)addr_len, addr);
    is_done = true;

cleanup:
    free(phrase);
    return is_done;
}

/* From is MAIL_FROM: "addr", "Name <addr>" or "\"Name\" <addr>". A quoted
 * name is unquoted first so it is re-encoded exactly once. */
static bool append_from_header(struct mime_buf *out, const char *from)
{
    const char *open = strrchr(from, '<');
    const char *close = open == NULL ? NULL : strchr(open, '>');
    struct mime_buf display = {0};
    char *display_text = NULL;
    size_t start = 0, end;
    bool is_done = false;

    if (open == NULL) {
        size_t len = strlen(from);
        while (len > 0 && from[len - 1] == ' ')
            len--;
        start = strspn(from, " ");
        if (is_safe_addr_spec(from + start, len - start))
            is_done = append_address_header(out, "From", NULL, from + start, len - start);
        goto cleanup;
    }
    if (close == NULL || close[strspn(close + 1, " ") + 1] != '\0' ||
        !is_safe_addr_spec(open + 1, (size_t)(close - open - 1)))
        goto cleanup;

    end = (size_t)(open - from);
    start = strspn(from, " ");
    while (end > start && from[end - 1] == ' ')
        end--;
    if (end - start >= 2 && from[start] == '"' && from[end - 1] == '"') {
        for (size_t i = start + 1; i < end - 1; i++) {
            if (from[i] == '\\' && i + 1 < end - 1)
                i++;
            buf_append(&display, from + i, 1);
        }
    } else {
        buf_append(&display, from + start, end - start);
    }
    display_text = buf_finish(&display);
    if (display_text != NULL)
        is_done = append_address_header(out, "From", display_text, open + 1, (size_t)(close - open - 1));

cleanup:
    free(display_text);
    return is_done;
}

/* RFC 5322 date in UTC, with English names whatever the locale. */
static bool format_date(time_t t, char *out, size_t size)
{
    static const char *const DAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm utc;

    if (gmtime_r(&t, &utc) == NULL || utc.tm_wday < 0 || utc.tm_wday > 6 || utc.tm_mon < 0 || utc.tm_mon > 11)
        return false;
    snprintf(out, size, "%s, %02d %s %04d %02d:%02d:%02d +0000", DAYS[utc.tm_wday], utc.tm_mday, MONTHS[utc.tm_mon],
             utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
    return true;
}

/* "=_" + FNV-1a hash of the seed + the seed's letters and digits. QP output
 * only ever has '=' before two hex digits or a line end, never before '_',
 * so this boundary cannot occur inside either encoded part. */
static void make_boundary(const char *seed, char *out, size_t size)
{
    uint64_t hash = 14695981039346656037u;
    size_t n;

    for (const unsigned char *p = (const unsigned char *)seed; *p != '\0'; p++) {
        hash ^= *p;
        hash *= 1099511628211u;
    }
    n = (size_t)snprintf(out, size, "=_%016llx.", (unsigned long long)hash);
    for (const char *p = seed; *p != '\0' && n + 1 < size && n < 19 + MIME_SEED_CHARS_MAX; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
            out[n++] = *p;
    }
    out[n] = '\0';
}

/* "24 hours": whole hours rounded up, or minutes when under an hour. */
static void format_expiry(long ttl_s, char *out, size_t size)
{
    long hours = ttl_s / 3600 + (ttl_s % 3600 != 0);
    long minutes = ttl_s / 60 + (ttl_s % 60 != 0);

    if (ttl_s >= 3600)
        snprintf(out, size, "%ld hour%s", hours, hours == 1 ? "" : "s");
    else
        snprintf(out, size, "%ld minute%s", minutes, minutes == 1 ? "" : "s");
}

static const char HTML_HEAD[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>%s</title>\n"
    "</head>\n"
    "<body style=\"margin:0;padding:24px;background-color:#f4f5f7;font-family:Arial,Helvetica,sans-serif;"
    "font-size:16px;line-height:1.5;color:#1f2933;\">\n"
    "<div style=\"max-width:560px;margin:0 auto;padding:32px;background-color:#ffffff;border-radius:8px;\">\n"
    "<h1 style=\"margin:0 0 16px;font-size:22px;\">%s</h1>\n";
static const char HTML_TAIL[] = "</div>\n</body>\n</html>\n";
static const char HTML_BUTTON[] =
    "<p style=\"margin:32px 0;text-align:center;\"><a href=\"%s\" style=\"display:inline-block;padding:12px 24px;"
    "background-color:#0b5cff;color:#ffffff;font-weight:bold;text-decoration:none;border-radius:4px;\">%s</a></p>\n";

static const char SUBJECT_VERIFICATION[] = "Verify your email address";
static const char SUBJECT_ALREADY_REGISTERED[] = "Sign-up attempt with your email address";
static const char SUBJECT_SIGNIN_ATTEMPTS[] = "Someone is trying to sign in to your account";

static void append_greeting(struct mime_buf *out, const char *name, bool is_html)
{
    if (!has_text(name))
        buf_puts(out, is_html ? "<p>Hello,</p>\n" : "Hello,\n\n");
    else
        buf_printf(out, is_html ? "<p>Hello %s,</p>\n" : "Hello %s,\n\n", name);
}

/* Plain text and HTML of the verification email. name_html and link_html
 * are the HTML-escaped name and link. */
static void write_verification(const struct mime_message *msg, const char *name_html, const char *link_html,
                               struct mime_buf *text, struct mime_buf *html)
{
    char expiry[64];

    format_expiry(msg->link_ttl_s, expiry, sizeof expiry);

    append_greeting(text, msg->to_name, false);
    buf_puts(text, "Your Services Portal account has been created. Please verify your email address by opening "
                   "the link below in your browser:\n\n");
    buf_printf(text, "%s\n\n", msg->verify_link); /* alone on its line, so it can be copied whole */
    buf_printf(text, "This link expires in %s.\n\n", expiry);
    buf_puts(text, "If you did not sign up for a Services Portal account, you can ignore this email.\n");

    buf_printf(html, HTML_HEAD, SUBJECT_VERIFICATION, "Verify your email address");
    append_greeting(html, name_html, true);
    buf_puts(html, "<p>Your Services Portal account has been created. Please verify your email address.</p>\n");
    buf_printf(html, HTML_BUTTON, link_html, "Verify Your Email Address");
    buf_puts(html, "<p>If the Verify Your Email Address button cannot be used, you can use the link below by "
                   "clicking it or copying it into your browser:</p>\n");
    buf_printf(html, "<p style=\"word-break:break-all;\"><a href=\"%s\" style=\"color:#0b5cff;\">%s</a></p>\n",
               link_html, link_html);
    buf_printf(html, "<p>This link expires in %s.</p>\n", expiry);
    buf_puts(html, "<p>If you did not sign up for a Services Portal account, you can ignore this email.</p>\n");
    buf_puts(html, HTML_TAIL);
}

/* Plain text and HTML of the notice sent when the address is already taken.
 * It carries no link that acts on the account: the sender may not be the owner. */
static void write_already_registered(const struct mime_message *msg, const char *name_html, const char *sign_in_html,
                                     struct mime_buf *text, struct mime_buf *html)
{
    append_greeting(text, msg->to_name, false);
    buf_puts(text, "Someone (hopefully you) tried to sign up for the Services Portal with this email address. "
                   "This address already has an account, so no new account was created.\n\n");
    if (has_text(msg->sign_in_url))
        buf_printf(text, "If it was you, sign in with your existing account:\n\n%s\n\n", msg->sign_in_url);
    else
        buf_puts(text, "If it was you, sign in with your existing account.\n\n");
    buf_puts(text, "If you forgot your password, reset it from the sign-in page.\n\n");
    buf_puts(text, "If it wasn't you, no action is needed: your account is safe.\n");

    buf_printf(html, HTML_HEAD, SUBJECT_ALREADY_REGISTERED, "Someone tried to sign up with your email address");
    append_greeting(html, name_html, true);
    buf_puts(html, "<p>Someone (hopefully you) tried to sign up for the Services Portal with this email address. "
                   "This address already has an account, so no new account was created.</p>\n");
    if (sign_in_html != NULL) {
        buf_puts(html, "<p>If it was you, sign in with your existing account:</p>\n");
        buf_printf(html, HTML_BUTTON, sign_in_html, "Sign In");
    } else {
        buf_puts(html, "<p>If it was you, sign in with your existing account.</p>\n");
    }
    buf_puts(html, "<p>If you forgot your password, reset it from the sign-in page.</p>\n");
    buf_puts(html, "<p>If it wasn't you, no action is needed: your account is safe.</p>\n");
    buf_puts(html, HTML_TAIL);
}

/* Plain text and HTML of the notice sent when the per-account cap on wrong
 * passwords trips (at most hourly). Like the other notice it has no link
 * that acts on the account. */
static void write_signin_attempts(const struct mime_message *msg, const char *name_html, const char *sign_in_html,
                                  struct mime_buf *text, struct mime_buf *html)
{
    append_greeting(text, msg->to_name, false);
    buf_puts(text, "Someone has tried many wrong passwords to sign in to your Services Portal account. To protect "
                   "it, we are turning away sign-in attempts to it from places you have not signed in from "
                   "before, for a while.\n\n");
    buf_puts(text, "If it was you, you can still sign in from a device and network you used before, or wait a "
                   "little and try again");
    if (has_text(msg->sign_in_url))
        buf_printf(text, ":\n\n%s\n\n", msg->sign_in_url);
    else
        buf_puts(text, ".\n\n");
    buf_puts(text, "If it wasn't you, nobody has signed in: your password was not accepted. If your password is "
                   "used anywhere else, change it there.\n");

    buf_printf(html, HTML_HEAD, SUBJECT_SIGNIN_ATTEMPTS, "Someone is trying to sign in to your account");
    append_greeting(html, name_html, true);
    buf_puts(html, "<p>Someone has tried many wrong passwords to sign in to your Services Portal account. To "
                   "protect it, we are turning away sign-in attempts to it from places you have not signed in "
                   "from before, for a while.</p>\n");
    buf_puts(html, "<p>If it was you, you can still sign in from a device and network you used before, or wait a "
                   "little and try again.</p>\n");
    if (sign_in_html != NULL)
        buf_printf(html, HTML_BUTTON, sign_in_html, "Sign In");
    buf_puts(html, "<p>If it wasn't you, nobody has signed in: your password was not accepted. If your password "
                   "is used anywhere else, change it there.</p>\n");
    buf_puts(html, HTML_TAIL);
}

/* Everything from outside is checked here, before anything is built. */
static bool is_buildable(const struct mime_message *msg)
{
    if (msg->from == NULL || msg->to_address == NULL || msg->message_id == NULL)
        return false;
    /* Header injection: no value may carry a line break into the headers. */
    if (has_line_break(msg->from) || has_line_break(msg->to_address) || has_line_break(msg->to_name) ||
        has_line_break(msg->message_id))
        return false;
    if (!is_safe_addr_spec(msg->to_address, strlen(msg->to_address)) ||
        !is_safe_addr_spec(msg->message_id, strlen(msg->message_id)))
        return false;
    switch (msg->template_kind) {
    case MIME_TEMPLATE_VERIFICATION:
        return is_safe_link(msg->verify_link) && msg->link_ttl_s > 0;
    case MIME_TEMPLATE_ALREADY_REGISTERED:
    case MIME_TEMPLATE_SIGNIN_ATTEMPTS:
        return !has_text(msg->sign_in_url) || is_safe_link(msg->sign_in_url);
    }
    return false;
}

static void append_part(struct mime_buf *out, const char *boundary, const char *content_type, const char *qp_body)
{
    buf_printf(out, "--%s\r\n", boundary);
    buf_printf(out, "Content-Type: %s; charset=UTF-8\r\n", content_type);
    buf_puts(out, "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    buf_puts(out, qp_body);
    /* The CRLF before the next delimiter belongs to the delimiter (RFC 2046). */
    buf_puts(out, "\r\n");
}

char *mime_build(const struct mime_message *msg)
{
    struct mime_buf out = {0}, text = {0}, html = {0};
    char *name_html = NULL, *link_html = NULL;
    char *text_body = NULL, *html_body = NULL, *text_qp = NULL, *html_qp = NULL;
    char *message = NULL;
    char date[64];
    char boundary[80];
    const char *subject;

    if (!is_buildable(msg) || !format_date(msg->date, date, sizeof date))
        goto cleanup;
    make_boundary(msg->boundary_seed != NULL ? msg->boundary_seed : msg->message_id, boundary, sizeof boundary);
    name_html = mime_html_escape(has_text(msg->to_name) ? msg->to_name : "");
    if (name_html == NULL)
        goto cleanup;

    if (msg->template_kind == MIME_TEMPLATE_VERIFICATION) {
        subject = SUBJECT_VERIFICATION;
        link_html = mime_html_escape(msg->verify_link);
        if (link_html == NULL)
            goto cleanup;
        write_verification(msg, name_html, link_html, &text, &html);
    } else {
        bool is_signin_notice = msg->template_kind == MIME_TEMPLATE_SIGNIN_ATTEMPTS;
        subject = is_signin_notice ? SUBJECT_SIGNIN_ATTEMPTS : SUBJECT_ALREADY_REGISTERED;
        if (has_text(msg->sign_in_url)) {
            link_html = mime_html_escape(msg->sign_in_url);
            if (link_html == NULL)
                goto cleanup;
        }
        if (is_signin_notice)
            write_signin_attempts(msg, name_html, link_html, &text, &html);
        else
            write_already_registered(msg, name_html, link_html, &text, &html);
    }
    text_body = buf_finish(&text);
    html_body = buf_finish(&html);
    if (text_body == NULL || html_body == NULL)
        goto cleanup;
    text_qp = mime_quoted_printable(text_body);
    html_qp = mime_quoted_printable(html_body);
    if (text_qp == NULL || html_qp == NULL)
        goto cleanup;

    buf_printf(&out, "Date: %s\r\n", date);
    if (!append_from_header(&out, msg->from))
        goto cleanup;
    if (!append_address_header(&out, "To", has_text(msg->to_name) ? msg->to_name : NULL, msg->to_address,
                               strlen(msg->to_address)))
        goto cleanup;
    buf_printf(&out, "Subject: %s\r\n", subject);
    buf_printf(&out, "Message-ID: <%s>\r\n", msg->message_id);
    buf_puts(&out, "MIME-Version: 1.0\r\n");
    buf_printf(&out, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n", boundary);
    /* RFC 3834: tells autoresponders not to answer. */
    buf_puts(&out, "Auto-Submitted: auto-generated\r\n");
    buf_puts(&out, "\r\nThis is a multi-part message in MIME format.\r\n\r\n");
    append_part(&out, boundary, "text/plain", text_qp);
    append_part(&out, boundary, "text/html", html_qp);
    buf_printf(&out, "--%s--\r\n", boundary);
    message = buf_finish(&out);

cleanup:
    free(out.data);
    free(text.data);
    free(html.data);
    free(html_qp);
    free(text_qp);
    free(html_body);
    free(text_body);
    free(link_html);
    free(name_html);
    return message;
}
