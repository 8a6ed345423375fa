/* mime: quoted-printable and RFC 2047 encoders checked by decoding them back,
 * and whole messages checked line by line and part by part as a mail reader
 * would parse them. */
#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mime.h"

#define LINK "https://portal.example.com/verify?token=Zm9vYmFyYmF6cXV4LXF1dXgtY29yZ2UtZ3JhdWx0LWdhcnBseQ&lang=en"
#define LINK_HTML                                                                                                      \
    "https://portal.example.com/verify?token=Zm9vYmFyYmF6cXV4LXF1dXgtY29yZ2UtZ3JhdWx0LWdhcnBseQ&amp;lang=en"
#define FALLBACK_SENTENCE                                                                                              \
    "If the Verify Your Email Address button cannot be used, you can use the link below by clicking it or "            \
    "copying it into your browser:"
/* Sat, 28 Nov 2026 09:42:13 UTC */
#define DATE_2026_11_28 ((time_t)1795858933)

/* --- small decoders, so every check is on what a reader would see --- */

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1; /* lowercase is not what we emit */
}

/* Strict RFC 2045 decoding: "=XX" (uppercase), "=" CRLF soft breaks, CRLF
 * becomes "\n". NULL when the input has anything else, e.g. a bare LF. */
static char *qp_decode(const char *in)
{
    size_t len = strlen(in);
    char *out = malloc(len + 1);
    size_t n = 0;

    for (size_t i = 0; i < len; i++) {
        if (in[i] == '=') {
            if (in[i + 1] == '\r' && in[i + 2] == '\n') {
                i += 2;
            } else if (hex_value(in[i + 1]) >= 0 && hex_value(in[i + 2]) >= 0) {
                out[n++] = (char)(hex_value(in[i + 1]) * 16 + hex_value(in[i + 2]));
                i += 2;
            } else {
                goto malformed;
            }
        } else if (in[i] == '\r') {
            if (in[i + 1] != '\n')
                goto malformed;
            out[n++] = '\n';
            i++;
        } else if (in[i] == '\n') {
            goto malformed;
        } else {
            out[n++] = in[i];
        }
    }
    out[n] = '\0';
    return out;

malformed:
    free(out);
    return NULL;
}

static int base64_value(char c)
{
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c == '\0' ? NULL : strchr(alphabet, c);
    return p == NULL ? -1 : (int)(p - alphabet);
}

/* Decodes len base64 characters, appending to out; returns bytes written or -1. */
static long base64_decode(const char *in, size_t len, unsigned char *out)
{
    long n = 0;

    if (len % 4 != 0)
        return -1;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = in[i + k] == '=' ? 0 : base64_value(in[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
            return -1;
        uint32_t group = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[n++] = (unsigned char)(group >> 16);
        if (in[i + 2] != '=')
            out[n++] = (unsigned char)(group >> 8);
        if (in[i + 3] != '=')
            out[n++] = (unsigned char)group;
    }
    return n;
}

/* True when s[0..len) is whole UTF-8 sequences (overlongs not checked). */
static bool is_whole_utf8(const unsigned char *s, long len)
{
    long i = 0;

    while (i < len) {
        long need;
        if (s[i] < 0x80)
            need = 0;
        else if ((s[i] & 0xE0) == 0xC0)
            need = 1;
        else if ((s[i] & 0xF0) == 0xE0)
            need = 2;
        else if ((s[i] & 0xF8) == 0xF0)
            need = 3;
        else
            return false;
        for (long k = 1; k <= need; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return false;
        }
        i += need + 1;
    }
    return true;
}

/* Decodes a phrase made of "=?UTF-8?B?...?=" words separated by CRLF SP,
 * checking each word: at most 75 characters, whole UTF-8 characters inside. */
static char *decode_encoded_words(const char *phrase)
{
    unsigned char *out = malloc(strlen(phrase) + 1);
    long n = 0;
    const char *p = phrase;

    while (*p != '\0') {
        const char *end;
        long got;
        if (p != phrase) {
            ck_assert_msg(strncmp(p, "\r\n ", 3) == 0, "words not folded with CRLF SP: %s", p);
            p += 3;
        }
        ck_assert_msg(strncmp(p, "=?UTF-8?B?", 10) == 0, "not an encoded word: %s", p);
        end = strstr(p + 10, "?=");
        ck_assert_ptr_nonnull(end);
        ck_assert_msg(end + 2 - p <= 75, "encoded word of %d characters", (int)(end + 2 - p));
        got = base64_decode(p + 10, (size_t)(end - (p + 10)), out + n);
        ck_assert_int_ge(got, 0);
        ck_assert_msg(is_whole_utf8(out + n, got), "a word splits a UTF-8 sequence");
        n += got;
        p = end + 2;
    }
    out[n] = '\0';
    return (char *)out;
}

/* Every line ends in CRLF, no CR or LF elsewhere, none longer than max. */
static void assert_crlf_lines_within(const char *text, size_t max)
{
    const char *line = text;
    while (*line != '\0') {
        const char *crlf = strstr(line, "\r\n");
        ck_assert_msg(crlf != NULL, "last line lacks CRLF: %s", line);
        for (const char *p = line; p < crlf; p++)
            ck_assert_msg(*p != '\r' && *p != '\n', "bare CR or LF in: %.*s", (int)(crlf - line), line);
        ck_assert_msg((size_t)(crlf - line) <= max, "line of %d > %d: %.*s", (int)(crlf - line), (int)max,
                      (int)(crlf - line), line);
        line = crlf + 2;
    }
}

static size_t count_occurrences(const char *haystack, const char *needle)
{
    size_t count = 0;
    for (const char *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
        count++;
    return count;
}

/* --- a tiny mail reader over mime_build's output --- */

struct parsed_part {
    char *headers;      /* the part's header block */
    char *decoded_body; /* QP-decoded, "\n" line ends */
};

struct parsed_message {
    char *raw;
    char *headers; /* header block, each line with its CRLF */
    char boundary[128];
    struct parsed_part parts[2];
    size_t part_count;
};

/* The unfolded value of header name in block, or NULL; new string. */
static char *header_value(const char *block, const char *name)
{
    size_t name_len = strlen(name);
    for (const char *line = block; *line != '\0'; line = strstr(line, "\r\n") + 2) {
        if (strncmp(line, name, name_len) == 0 && line[name_len] == ':') {
            const char *p = line + name_len + 1;
            char *value = malloc(strlen(p) + 1);
            size_t n = 0;
            while (*p == ' ')
                p++;
            while (*p != '\0' && !(p[0] == '\r' && p[1] == '\n' && p[2] != ' ' && p[2] != '\t')) {
                if (p[0] == '\r' && p[1] == '\n')
                    p += 2;
                else
                    value[n++] = *p++;
            }
            value[n] = '\0';
            return value;
        }
    }
    return NULL;
}

/* Header lines (not continuation lines) that start with "name:". */
static size_t header_count(const char *block, const char *name)
{
    size_t name_len = strlen(name), count = 0;
    for (const char *line = block; *line != '\0'; line = strstr(line, "\r\n") + 2) {
        if (strncmp(line, name, name_len) == 0 && line[name_len] == ':')
            count++;
    }
    return count;
}

static void parse_message(char *raw, struct parsed_message *m)
{
    const char *blank, *body, *p;
    char *content_type, *start;

    memset(m, 0, sizeof *m);
    m->raw = raw;
    ck_assert_ptr_nonnull(raw);
    blank = strstr(raw, "\r\n\r\n");
    ck_assert_ptr_nonnull(blank);
    m->headers = strndup(raw, (size_t)(blank + 2 - raw));
    body = blank + 4;

    content_type = header_value(m->headers, "Content-Type");
    ck_assert_ptr_nonnull(content_type);
    ck_assert_msg(strncmp(content_type, "multipart/alternative;", 22) == 0, "%s", content_type);
    start = strstr(content_type, "boundary=\"");
    ck_assert_ptr_nonnull(start);
    start += 10;
    ck_assert_ptr_nonnull(strchr(start, '"'));
    snprintf(m->boundary, sizeof m->boundary, "%.*s", (int)(strchr(start, '"') - start), start);
    free(content_type);

    char delimiter[140];
    snprintf(delimiter, sizeof delimiter, "\r\n--%s", m->boundary);
    p = strstr(body - 2, delimiter); /* the first delimiter may follow the blank line */
    ck_assert_ptr_nonnull(p);
    for (;;) {
        p += strlen(delimiter);
        if (strcmp(p, "--\r\n") == 0)
            break; /* the close delimiter ends the message */
        ck_assert_msg(strncmp(p, "\r\n", 2) == 0, "junk after a delimiter: %.20s", p);
        p += 2;
        const char *next = strstr(p, delimiter);
        ck_assert_ptr_nonnull(next);
        ck_assert_uint_lt(m->part_count, 2);
        const char *part_blank = strstr(p, "\r\n\r\n");
        ck_assert(part_blank != NULL && part_blank < next);
        struct parsed_part *part = &m->parts[m->part_count++];
        part->headers = strndup(p, (size_t)(part_blank + 2 - p));
        char *encoded = strndup(part_blank + 4, (size_t)(next - (part_blank + 4)));
        part->decoded_body = qp_decode(encoded);
        ck_assert_msg(part->decoded_body != NULL, "part body is not valid quoted-printable");
        free(encoded);
        p = next;
    }
}

static void free_message(struct parsed_message *m)
{
    for (size_t i = 0; i < m->part_count; i++) {
        free(m->parts[i].headers);
        free(m->parts[i].decoded_body);
    }
    free(m->headers);
    free(m->raw);
}

static struct mime_message verification_message(void)
{
    return (struct mime_message){
        .template_kind = MIME_TEMPLATE_VERIFICATION,
        .from = "Services Portal <no-reply@portal.example.com>",
        .to_address = "jose@lintasarta.co.id",
        .to_name = "José Ñúñez",
        .message_id = "42.9f8e7d6c@portal.example.com",
        .verify_link = LINK,
        .link_ttl_s = 86400,
        .date = DATE_2026_11_28,
        .boundary_seed = "42.9f8e7d6c@portal.example.com",
    };
}

static struct mime_message already_registered_message(void)
{
    return (struct mime_message){
        .template_kind = MIME_TEMPLATE_ALREADY_REGISTERED,
        .from = "no-reply@portal.example.com",
        .to_address = "budi@lintasarta.co.id",
        .to_name = "Budi Santoso",
        .message_id = "43.0a1b2c3d@portal.example.com",
        .sign_in_url = "https://portal.example.com/sign-in",
        .date = DATE_2026_11_28,
        .boundary_seed = "43.0a1b2c3d@portal.example.com",
    };
}

static void build_and_parse(const struct mime_message *msg, struct parsed_message *m)
{
    parse_message(mime_build(msg), m);
}

/* --- quoted-printable --- */

static void assert_qp(const char *in, const char *expected)
{
    char *out = mime_quoted_printable(in);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, expected);
    free(out);
}

START_TEST(test_mime_qp_passes_ascii_through)
{
    assert_qp("Hello Budi, welcome!", "Hello Budi, welcome!");
    assert_qp("a\tb c", "a\tb c");
    assert_qp("", "");
}
END_TEST

START_TEST(test_mime_qp_encodes_equals_sign)
{
    assert_qp("?token=abc&x=1", "?token=3Dabc&x=3D1");
    assert_qp("=", "=3D");
}
END_TEST

START_TEST(test_mime_qp_encodes_utf8_bytes_as_uppercase_hex)
{
    assert_qp("José", "Jos=C3=A9");
    assert_qp("日本", "=E6=97=A5=E6=9C=AC");
    assert_qp("\x7F\x01", "=7F=01");
}
END_TEST

START_TEST(test_mime_qp_encodes_whitespace_before_line_end)
{
    assert_qp("end \nnext", "end=20\r\nnext");
    assert_qp("end\t\nnext", "end=09\r\nnext");
    assert_qp("trailing  ", "trailing =20");
    assert_qp("in the middle", "in the middle");
}
END_TEST

START_TEST(test_mime_qp_turns_newlines_into_crlf)
{
    assert_qp("one\ntwo\n", "one\r\ntwo\r\n");
    assert_qp("\n\n", "\r\n\r\n");
}
END_TEST

START_TEST(test_mime_qp_escapes_a_dot_that_starts_a_line)
{
    assert_qp(".\nx.y\n", "=2E\r\nx.y\r\n");
}
END_TEST

START_TEST(test_mime_qp_soft_breaks_long_lines_within_76)
{
    char in[301];
    char *out, *back;

    memset(in, 'a', 300);
    in[300] = '\0';
    out = mime_quoted_printable(in);
    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(strstr(out, "=\r\n"));
    /* The last line has no CRLF of its own; add one to check all lines alike. */
    char *with_crlf = malloc(strlen(out) + 3);
    sprintf(with_crlf, "%s\r\n", out);
    assert_crlf_lines_within(with_crlf, 76);
    /* A soft-broken line uses the full 76 columns, '=' included. */
    ck_assert_ptr_eq(strstr(out, "=\r\n"), out + 75);
    back = qp_decode(out);
    ck_assert_str_eq(back, in);
    free(back);
    free(with_crlf);
    free(out);
}
END_TEST

START_TEST(test_mime_qp_never_splits_an_escape)
{
    char in[2 * 100 + 1] = "";
    char *out, *back;

    for (int i = 0; i < 100; i++)
        strcat(in, "é");
    out = mime_quoted_printable(in);
    ck_assert_ptr_nonnull(out);
    for (const char *line = out; *line != '\0';) {
        const char *end = strstr(line, "\r\n");
        size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
        ck_assert_uint_le(len, 76);
        for (size_t i = 0; i < len; i++) {
            if (line[i] != '=')
                continue;
            /* Either the soft break at the very end, or "=XX" whole on this line. */
            ck_assert_msg(i + 1 == len || (i + 2 < len && hex_value(line[i + 1]) >= 0 && hex_value(line[i + 2]) >= 0),
                          "split escape in line: %.*s", (int)len, line);
            i += i + 1 == len ? 0 : 2;
        }
        line = end != NULL ? end + 2 : line + len;
    }
    back = qp_decode(out);
    ck_assert_str_eq(back, in);
    free(back);
    free(out);
}
END_TEST

START_TEST(test_mime_qp_round_trips_many_inputs)
{
    static const char *const FIXED[] = {
        "",
        "=",
        "==\n==",
        " ",
        "\t",
        " \n",
        "a \n b \n",
        ".",
        "..\n.\n",
        "x=\n",
        "Hello José Ñúñez,\nYour link:\nhttps://example.com/v?token=a&b=c\n",
        "line with spaces at the end   \nand tabs\t\t\n",
    };
    uint32_t seed = 12345;

    for (size_t i = 0; i < sizeof FIXED / sizeof FIXED[0]; i++) {
        char *out = mime_quoted_printable(FIXED[i]);
        char *back = qp_decode(out);
        ck_assert_msg(back != NULL && strcmp(back, FIXED[i]) == 0, "round trip failed for \"%s\"", FIXED[i]);
        free(back);
        free(out);
    }
    /* Random bytes 1..255 except CR, with LF as the only line break. */
    for (int round = 0; round < 2000; round++) {
        char in[400];
        size_t len;
        seed = seed * 1103515245u + 12345u;
        len = (seed >> 8) % sizeof in;
        for (size_t i = 0; i < len; i++) {
            unsigned char c;
            do {
                seed = seed * 1103515245u + 12345u;
                c = (unsigned char)(seed >> 16);
            } while (c == '\0' || c == '\r');
            in[i] = (char)c;
        }
        in[len] = '\0';
        char *out = mime_quoted_printable(in);
        ck_assert_ptr_nonnull(out);
        char *with_crlf = malloc(strlen(out) + 3);
        sprintf(with_crlf, "%s\r\n", out);
        assert_crlf_lines_within(with_crlf, 76);
        char *back = qp_decode(out);
        ck_assert_msg(back != NULL && strcmp(back, in) == 0, "round trip failed in round %d", round);
        /* Nothing a transport might strip: no space or tab right before a line end. */
        ck_assert_ptr_null(strstr(with_crlf, " \r\n"));
        ck_assert_ptr_null(strstr(with_crlf, "\t\r\n"));
        free(back);
        free(with_crlf);
        free(out);
    }
}
END_TEST

/* --- RFC 2047 phrases --- */

static void assert_phrase(const char *in, const char *expected)
{
    char *out = mime_encode_header_phrase(in);
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, expected);
    free(out);
}

START_TEST(test_mime_phrase_keeps_plain_ascii_names)
{
    assert_phrase("Budi Santoso", "Budi Santoso");
    assert_phrase("O'Neil", "O'Neil");
}
END_TEST

START_TEST(test_mime_phrase_quotes_ascii_with_specials)
{
    assert_phrase("O'Brien, Jr.", "\"O'Brien, Jr.\"");
    assert_phrase("Say \"hi\" \\o/", "\"Say \\\"hi\\\" \\\\o/\"");
    assert_phrase("a@b.com", "\"a@b.com\"");
    assert_phrase("<evil@x.com>", "\"<evil@x.com>\"");
}
END_TEST

START_TEST(test_mime_phrase_quotes_text_that_looks_like_an_encoded_word)
{
    assert_phrase("=?UTF-8?B?QWRtaW4=?=", "\"=?UTF-8?B?QWRtaW4=?=\"");
}
END_TEST

START_TEST(test_mime_phrase_encodes_non_ascii_as_base64_words)
{
    char *out = mime_encode_header_phrase("José Ñúñez");
    char *back;

    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, "=?UTF-8?B?Sm9zw6kgw5HDusOxZXo=?=");
    back = decode_encoded_words(out);
    ck_assert_str_eq(back, "José Ñúñez");
    free(back);
    free(out);
}
END_TEST

START_TEST(test_mime_phrase_splits_long_names_into_folded_words)
{
    static const char *const PIECES[] = {"Ž", "o", "f", "í", "é", " ", "日", "本", "ñ", "😀"};
    char name[100 * 4 + 1] = "";
    char *out, *back;

    for (int i = 0; i < 100; i++)
        strcat(name, PIECES[i % 10]);
    out = mime_encode_header_phrase(name);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_ge(count_occurrences(out, "=?UTF-8?B?"), 3);
    back = decode_encoded_words(out); /* checks ≤ 75 per word and whole characters */
    ck_assert_str_eq(back, name);
    /* As a header: "To: " and every folded line within 78. */
    char *header = malloc(strlen(out) + 64);
    sprintf(header, "To: %s <jose@example.com>\r\n", out);
    assert_crlf_lines_within(header, 78);
    free(header);
    free(back);
    free(out);
}
END_TEST

START_TEST(test_mime_phrase_ends_words_after_spaces_when_it_can)
{
    const char *name = "Žofie Nováková-Dvořáková Ñúñez García Fernández de la Peña y Villavicencio Ōtomo";
    char *out = mime_encode_header_phrase(name);
    const char *p = out;
    size_t words = 0;

    ck_assert_ptr_nonnull(out);
    /* Readers that wrongly show the space between words then show a double
     * space rather than a name split in the middle of a word. */
    for (;;) {
        const char *end = strstr(p, "?=");
        unsigned char decoded[64];
        long n;
        ck_assert_ptr_nonnull(end);
        n = base64_decode(p + 10, (size_t)(end - (p + 10)), decoded);
        ck_assert_int_gt(n, 0);
        words++;
        if (end[2] == '\0')
            break;
        ck_assert_msg(decoded[n - 1] == ' ', "word %zu does not end after a space", words);
        p = end + 5; /* "?=" CRLF SP */
    }
    ck_assert_uint_ge(words, 2);
    free(out);
}
END_TEST

START_TEST(test_mime_phrase_splits_names_without_spaces)
{
    char name[100 * 4 + 1] = "a"; /* one ASCII byte, so 45-byte cuts fall inside characters */
    char *out, *back;

    for (int i = 0; i < 99; i++)
        strcat(name, i % 3 == 2 ? "😀" : "日");
    out = mime_encode_header_phrase(name);
    ck_assert_ptr_nonnull(out);
    back = decode_encoded_words(out);
    ck_assert_str_eq(back, name);
    free(back);
    free(out);
}
END_TEST

START_TEST(test_mime_phrase_folds_long_ascii_names_at_spaces)
{
    const char *name = "Maria Fernanda Alejandra Guadalupe de los Angeles Rodriguez Hernandez Lopez Garcia Martinez";
    char *out = mime_encode_header_phrase(name);
    char *header;

    ck_assert_ptr_nonnull(out);
    ck_assert_ptr_nonnull(strstr(out, "\r\n "));
    header = malloc(strlen(out) + 8);
    sprintf(header, "To: %s\r\n", out);
    assert_crlf_lines_within(header, 78);
    /* Unfolding (dropping CRLF) gives the name back. */
    char *unfolded = header_value(header, "To");
    ck_assert_str_eq(unfolded, name);
    free(unfolded);
    free(header);
    free(out);
}
END_TEST

START_TEST(test_mime_phrase_encodes_ascii_too_long_to_fold)
{
    char name[201];
    char *out, *back;

    memset(name, 'x', 200);
    name[200] = '\0';
    out = mime_encode_header_phrase(name);
    ck_assert_ptr_nonnull(out);
    back = decode_encoded_words(out);
    ck_assert_str_eq(back, name);
    free(back);
    free(out);
}
END_TEST

/* --- HTML --- */

START_TEST(test_mime_html_escape_escapes_all_five_characters)
{
    char *out = mime_html_escape("<a href=\"x\">Tom & Jerry's</a>");
    ck_assert_ptr_nonnull(out);
    ck_assert_str_eq(out, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    free(out);
    out = mime_html_escape("José");
    ck_assert_str_eq(out, "José");
    free(out);
}
END_TEST

/* --- whole messages --- */

START_TEST(test_mime_build_verification_has_each_header_exactly_once)
{
    static const char *const NAMES[] = {"Date", "From", "To", "Subject", "Message-ID", "MIME-Version", "Content-Type"};
    struct mime_message msg = verification_message();
    struct parsed_message m;
    char *value;

    build_and_parse(&msg, &m);
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        ck_assert_msg(header_count(m.headers, NAMES[i]) == 1, "%s: %zu times", NAMES[i],
                      header_count(m.headers, NAMES[i]));
    ck_assert_uint_eq(header_count(m.headers, "Bcc") + header_count(m.headers, "Cc"), 0);

    value = header_value(m.headers, "Subject");
    ck_assert_str_eq(value, "Verify your email address");
    free(value);
    value = header_value(m.headers, "Date");
    ck_assert_str_eq(value, "Sat, 28 Nov 2026 09:42:13 +0000");
    free(value);
    value = header_value(m.headers, "From");
    ck_assert_str_eq(value, "Services Portal <no-reply@portal.example.com>");
    free(value);
    value = header_value(m.headers, "Message-ID");
    ck_assert_str_eq(value, "<42.9f8e7d6c@portal.example.com>");
    free(value);
    value = header_value(m.headers, "MIME-Version");
    ck_assert_str_eq(value, "1.0");
    free(value);
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_encodes_a_non_ascii_to_name)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;
    char *to, *open, *name;

    build_and_parse(&msg, &m);
    to = header_value(m.headers, "To");
    ck_assert_str_eq(to, "=?UTF-8?B?Sm9zw6kgw5HDusOxZXo=?= <jose@lintasarta.co.id>");
    open = strstr(to, " <");
    *open = '\0';
    name = decode_encoded_words(to);
    ck_assert_str_eq(name, "José Ñúñez");
    free(name);
    free(to);
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_uses_bare_address_without_a_name)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;
    char *to;

    msg.to_name = NULL;
    build_and_parse(&msg, &m);
    to = header_value(m.headers, "To");
    ck_assert_str_eq(to, "jose@lintasarta.co.id");
    ck_assert_ptr_nonnull(strstr(m.parts[0].decoded_body, "Hello,\n"));
    ck_assert_ptr_nonnull(strstr(m.parts[1].decoded_body, "<p>Hello,</p>"));
    free(to);
    free_message(&m);

    msg.to_name = "";
    build_and_parse(&msg, &m);
    to = header_value(m.headers, "To");
    ck_assert_str_eq(to, "jose@lintasarta.co.id");
    free(to);
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_encodes_a_non_ascii_from_name)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;
    char *from;

    msg.from = "\"Portal Layanan Ñ\" <no-reply@portal.example.com>";
    build_and_parse(&msg, &m);
    from = header_value(m.headers, "From");
    ck_assert_str_eq(from, "=?UTF-8?B?UG9ydGFsIExheWFuYW4gw5E=?= <no-reply@portal.example.com>");
    free(from);
    free_message(&m);

    msg.from = "no-reply@portal.example.com";
    build_and_parse(&msg, &m);
    from = header_value(m.headers, "From");
    ck_assert_str_eq(from, "no-reply@portal.example.com");
    free(from);
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_has_text_then_html_parts_in_quoted_printable)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;

    build_and_parse(&msg, &m);
    ck_assert_uint_eq(m.part_count, 2);
    ck_assert_ptr_nonnull(strstr(m.parts[0].headers, "Content-Type: text/plain; charset=UTF-8\r\n"));
    ck_assert_ptr_nonnull(strstr(m.parts[0].headers, "Content-Transfer-Encoding: quoted-printable\r\n"));
    ck_assert_ptr_nonnull(strstr(m.parts[1].headers, "Content-Type: text/html; charset=UTF-8\r\n"));
    ck_assert_ptr_nonnull(strstr(m.parts[1].headers, "Content-Transfer-Encoding: quoted-printable\r\n"));
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_keeps_every_line_crlf_and_short)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;
    const char *body;

    msg.to_name = "Žofie Nováková-Dvořáková Ñúñez García Fernández de la Peña y Villavicencio Ōtomo 日本";
    build_and_parse(&msg, &m);
    assert_crlf_lines_within(m.raw, 998);
    assert_crlf_lines_within(m.headers, 78);
    body = strstr(m.raw, "\r\n\r\n") + 4;
    assert_crlf_lines_within(body, 76);
    for (const unsigned char *p = (const unsigned char *)m.raw; *p != '\0'; p++)
        ck_assert_msg(*p < 0x80, "non-ASCII octet in the message");
    char closing[140];
    snprintf(closing, sizeof closing, "\r\n--%s--\r\n", m.boundary);
    ck_assert_str_eq(m.raw + strlen(m.raw) - strlen(closing), closing);
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_text_part_has_the_link_alone_on_a_line)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;
    const char *text;

    build_and_parse(&msg, &m);
    text = m.parts[0].decoded_body;
    ck_assert_ptr_nonnull(strstr(text, "\n" LINK "\n"));
    ck_assert_ptr_nonnull(strstr(text, "Hello José Ñúñez,\n"));
    ck_assert_ptr_nonnull(strstr(text, "Services Portal account has been created"));
    ck_assert_ptr_nonnull(strstr(text, "This link expires in 24 hours."));
    ck_assert_ptr_nonnull(strstr(text, "If you did not sign up"));
    /* The encoded line was longer than 76, so the reader had to undo a soft break. */
    ck_assert_ptr_null(strstr(m.raw, LINK));
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_html_part_has_the_button_and_the_fallback_link)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;
    const char *html, *button, *fallback, *raw_link;

    build_and_parse(&msg, &m);
    html = m.parts[1].decoded_body;
    ck_assert_msg(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0, "%.40s", html);
    ck_assert_ptr_nonnull(strstr(html, "<meta charset=\"utf-8\">"));
    ck_assert_ptr_nonnull(strstr(html, "<h1"));
    ck_assert_ptr_nonnull(strstr(html, "<p>Hello José Ñúñez,</p>"));
    ck_assert_ptr_nonnull(strstr(html, "</html>\n"));

    button = strstr(html, "<a href=\"" LINK_HTML "\"");
    ck_assert_ptr_nonnull(button);
    ck_assert_msg(strncmp(strchr(button, '>'), ">Verify Your Email Address</a>", 30) == 0, "button: %.200s", button);

    fallback = strstr(html, FALLBACK_SENTENCE);
    ck_assert_ptr_nonnull(fallback);
    ck_assert(fallback > button);
    raw_link = strstr(fallback, "<a href=\"" LINK_HTML "\"");
    ck_assert_ptr_nonnull(raw_link);
    ck_assert_msg(strncmp(strchr(raw_link, '>'), ">" LINK_HTML "</a>", strlen(LINK_HTML) + 5) == 0, "link: %.200s",
                  raw_link);
    ck_assert_ptr_nonnull(strstr(html, "This link expires in 24 hours."));

    ck_assert_ptr_null(strstr(html, "<img"));
    ck_assert_ptr_null(strstr(html, "<script"));
    ck_assert_ptr_null(strstr(html, "<style"));
    ck_assert_ptr_null(strstr(html, "<link"));
    /* The raw '&' never reaches the HTML: only the escaped link appears. */
    ck_assert_ptr_null(strstr(html, LINK));
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_escapes_the_name_in_html)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;

    msg.to_name = "<b>Tom & \"Jerry\"</b>";
    build_and_parse(&msg, &m);
    ck_assert_ptr_nonnull(strstr(m.parts[1].decoded_body, "Hello &lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;,"));
    ck_assert_ptr_null(strstr(m.parts[1].decoded_body, "<b>"));
    ck_assert_ptr_nonnull(strstr(m.parts[0].decoded_body, "Hello <b>Tom & \"Jerry\"</b>,\n"));
    free_message(&m);
}
END_TEST

static const struct {
    long ttl_s;
    const char *sentence;
} EXPIRY[] = {
    {86400, "This link expires in 24 hours."},  {3600, "This link expires in 1 hour."},
    {3601, "This link expires in 2 hours."},    {172800, "This link expires in 48 hours."},
    {1800, "This link expires in 30 minutes."}, {61, "This link expires in 2 minutes."},
    {59, "This link expires in 1 minute."},
};

START_TEST(test_mime_build_states_the_expiry_in_hours_or_minutes)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;

    msg.link_ttl_s = EXPIRY[_i].ttl_s;
    build_and_parse(&msg, &m);
    ck_assert_msg(strstr(m.parts[0].decoded_body, EXPIRY[_i].sentence) != NULL, "text lacks %s", EXPIRY[_i].sentence);
    ck_assert_msg(strstr(m.parts[1].decoded_body, EXPIRY[_i].sentence) != NULL, "html lacks %s", EXPIRY[_i].sentence);
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_boundary_is_valid_and_absent_from_the_bodies)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;
    const char *body_start;
    size_t len;

    msg.boundary_seed = "=_ tricky \"seed\" with spaces, quotes and a very long tail that goes on and on and on";
    build_and_parse(&msg, &m);
    len = strlen(m.boundary);
    ck_assert_uint_ge(len, 1);
    ck_assert_uint_le(len, 70);
    for (size_t i = 0; i < len; i++) {
        char c = m.boundary[i];
        bool is_bchar = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        strchr("'()+_,-./:=?", c) != NULL;
        ck_assert_msg(is_bchar, "boundary char '%c' in %s", c, m.boundary);
    }
    /* QP only writes '=' before two hex digits or a line end, so a boundary
     * holding "=_" cannot occur in an encoded body, whatever the text. */
    ck_assert_ptr_nonnull(strstr(m.boundary, "=_"));
    for (size_t i = 0; i < m.part_count; i++)
        ck_assert_ptr_null(strstr(m.parts[i].decoded_body, m.boundary));
    /* Exactly three delimiters: two part openings and the close. */
    body_start = strstr(m.raw, "\r\n\r\n");
    ck_assert_uint_eq(count_occurrences(body_start, m.boundary), 3);
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_does_not_depend_on_the_time_zone)
{
    struct mime_message msg = verification_message();
    struct parsed_message m;
    char *date;

    setenv("TZ", "Asia/Jakarta", 1);
    tzset();
    build_and_parse(&msg, &m);
    date = header_value(m.headers, "Date");
    ck_assert_str_eq(date, "Sat, 28 Nov 2026 09:42:13 +0000");
    free(date);
    free_message(&m);
    unsetenv("TZ");
    tzset();
}
END_TEST

/* Each header input, carrying a line break that would add a Bcc. */
static void set_injection(struct mime_message *msg, int field, const char *value)
{
    switch (field) {
    case 0:
        msg->to_name = value;
        break;
    case 1:
        msg->to_address = value;
        break;
    case 2:
        msg->from = value;
        break;
    default:
        msg->message_id = value;
    }
}

START_TEST(test_mime_build_rejects_header_injection)
{
    static const char *const BREAKS[] = {"\r\n", "\n", "\r"};
    static const char *const PREFIXES[] = {"Budi", "budi@lintasarta.co.id", "Portal <no-reply@portal.example.com>",
                                           "44.a@portal.example.com"};
    struct mime_message msg = verification_message();
    char value[128];
    char *out;

    snprintf(value, sizeof value, "%s%sBcc: x@y", PREFIXES[_i / 3], BREAKS[_i % 3]);
    set_injection(&msg, _i / 3, value);
    out = mime_build(&msg);
    ck_assert_msg(out == NULL, "accepted field %d with break %d", _i / 3, _i % 3);
}
END_TEST

START_TEST(test_mime_build_rejects_unsafe_addresses)
{
    static const char *const BAD[] = {
        "budi santoso@lintasarta.co.id",
        "<budi@lintasarta.co.id>",
        "budi@lintasarta.co.id,eve@evil.com",
        "josé@lintasarta.co.id",
        "budi@lintasarta.co.id\t",
        "",
        "no-at-sign",
        "a@b@c.com",
        "\"quoted\"@lintasarta.co.id",
        "eve@evil.com>",
    };
    struct mime_message msg = verification_message();

    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char *out;
        msg.to_address = BAD[i];
        out = mime_build(&msg);
        ck_assert_msg(out == NULL, "accepted to_address \"%s\"", BAD[i]);
    }
    msg = verification_message();
    msg.from = "Portal <no-reply@portal.example.com>, eve@evil.com";
    ck_assert_ptr_null(mime_build(&msg));
    msg = verification_message();
    msg.message_id = "<42@x>";
    ck_assert_ptr_null(mime_build(&msg));
}
END_TEST

START_TEST(test_mime_build_rejects_links_that_are_not_http)
{
    static const char *const BAD[] = {"javascript:alert(1)", "https://x.com/a b", "ftp://x.com/", "", NULL};
    struct mime_message msg = verification_message();

    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        char *out;
        msg.verify_link = BAD[i];
        out = mime_build(&msg);
        ck_assert_msg(out == NULL, "accepted link %zu", i);
    }
}
END_TEST

START_TEST(test_mime_build_already_registered_has_no_verify_link)
{
    struct mime_message msg = already_registered_message();
    struct parsed_message m;
    char *subject, *from;

    msg.verify_link = LINK; /* ignored for this template */
    build_and_parse(&msg, &m);
    subject = header_value(m.headers, "Subject");
    ck_assert_str_eq(subject, "Sign-up attempt with your email address");
    from = header_value(m.headers, "From");
    ck_assert_str_eq(from, "no-reply@portal.example.com");
    ck_assert_uint_eq(m.part_count, 2);
    ck_assert_ptr_null(strstr(m.raw, "token="));
    ck_assert_ptr_null(strstr(m.raw, "token=3D"));
    for (size_t i = 0; i < m.part_count; i++) {
        ck_assert_ptr_null(strstr(m.parts[i].decoded_body, "token="));
        ck_assert_ptr_null(strstr(m.parts[i].decoded_body, "Verify Your Email Address"));
    }
    free(from);
    free(subject);
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_already_registered_says_what_to_do)
{
    struct mime_message msg = already_registered_message();
    struct parsed_message m;
    const char *text, *html;

    build_and_parse(&msg, &m);
    text = m.parts[0].decoded_body;
    html = m.parts[1].decoded_body;
    ck_assert_ptr_nonnull(strstr(text, "Hello Budi Santoso,\n"));
    ck_assert_ptr_nonnull(strstr(text, "Someone (hopefully you) tried to sign up for the Services Portal"));
    ck_assert_ptr_nonnull(strstr(text, "already has an account"));
    ck_assert_ptr_nonnull(strstr(text, "\nhttps://portal.example.com/sign-in\n"));
    ck_assert_ptr_nonnull(strstr(text, "reset it"));
    ck_assert_ptr_nonnull(strstr(text, "no action is needed: your account is safe."));
    ck_assert_ptr_nonnull(strstr(html, "<a href=\"https://portal.example.com/sign-in\""));
    ck_assert_ptr_nonnull(strstr(html, "Someone (hopefully you) tried to sign up"));
    ck_assert_ptr_nonnull(strstr(html, "your account is safe."));
    free_message(&m);

    msg.sign_in_url = NULL;
    build_and_parse(&msg, &m);
    ck_assert_ptr_null(strstr(m.parts[0].decoded_body, "https://"));
    ck_assert_ptr_null(strstr(m.parts[1].decoded_body, "<a "));
    ck_assert_ptr_nonnull(strstr(m.parts[0].decoded_body, "sign in with your existing account."));
    free_message(&m);
}
END_TEST

START_TEST(test_mime_build_signin_attempts_notice_warns_without_acting_on_the_account)
{
    struct mime_message msg = already_registered_message();
    struct parsed_message m;

    msg.template_kind = MIME_TEMPLATE_SIGNIN_ATTEMPTS;
    msg.verify_link = LINK; /* ignored for this template */
    build_and_parse(&msg, &m);
    char *subject = header_value(m.headers, "Subject");
    ck_assert_str_eq(subject, "Someone is trying to sign in to your account");
    ck_assert_uint_eq(m.part_count, 2);
    assert_crlf_lines_within(m.raw, 998);
    ck_assert_ptr_null(strstr(m.raw, "token="));
    const char *text = m.parts[0].decoded_body, *html = m.parts[1].decoded_body;
    ck_assert_ptr_nonnull(strstr(text, "Hello Budi Santoso,\n"));
    ck_assert_ptr_nonnull(strstr(text, "tried many wrong passwords"));
    ck_assert_ptr_nonnull(strstr(text, "you used before"));
    ck_assert_ptr_nonnull(strstr(text, "\nhttps://portal.example.com/sign-in\n"));
    ck_assert_ptr_nonnull(strstr(text, "your password was not accepted"));
    ck_assert_ptr_nonnull(strstr(html, "<a href=\"https://portal.example.com/sign-in\""));
    ck_assert_ptr_nonnull(strstr(html, "tried many wrong passwords"));
    free(subject);
    free_message(&m);

    msg.sign_in_url = NULL;
    build_and_parse(&msg, &m);
    ck_assert_ptr_null(strstr(m.parts[0].decoded_body, "https://"));
    ck_assert_ptr_null(strstr(m.parts[1].decoded_body, "<a "));
    free_message(&m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("mime");
    TCase *tc_qp = tcase_create("quoted_printable");
    TCase *tc_phrase = tcase_create("header_phrase");
    TCase *tc_build = tcase_create("build");
    /* The round-trip tests encode thousands of inputs: slow under sanitizers. */
    tcase_set_timeout(tc_qp, 120);
    tcase_set_timeout(tc_phrase, 120);
    tcase_set_timeout(tc_build, 120);

    tcase_add_test(tc_qp, test_mime_qp_passes_ascii_through);
    tcase_add_test(tc_qp, test_mime_qp_encodes_equals_sign);
    tcase_add_test(tc_qp, test_mime_qp_encodes_utf8_bytes_as_uppercase_hex);
    tcase_add_test(tc_qp, test_mime_qp_encodes_whitespace_before_line_end);
    tcase_add_test(tc_qp, test_mime_qp_turns_newlines_into_crlf);
    tcase_add_test(tc_qp, test_mime_qp_escapes_a_dot_that_starts_a_line);
    tcase_add_test(tc_qp, test_mime_qp_soft_breaks_long_lines_within_76);
    tcase_add_test(tc_qp, test_mime_qp_never_splits_an_escape);
    tcase_add_test(tc_qp, test_mime_qp_round_trips_many_inputs);
    suite_add_tcase(s, tc_qp);

    tcase_add_test(tc_phrase, test_mime_phrase_keeps_plain_ascii_names);
    tcase_add_test(tc_phrase, test_mime_phrase_quotes_ascii_with_specials);
    tcase_add_test(tc_phrase, test_mime_phrase_quotes_text_that_looks_like_an_encoded_word);
    tcase_add_test(tc_phrase, test_mime_phrase_encodes_non_ascii_as_base64_words);
    tcase_add_test(tc_phrase, test_mime_phrase_splits_long_names_into_folded_words);
    tcase_add_test(tc_phrase, test_mime_phrase_ends_words_after_spaces_when_it_can);
    tcase_add_test(tc_phrase, test_mime_phrase_splits_names_without_spaces);
    tcase_add_test(tc_phrase, test_mime_phrase_folds_long_ascii_names_at_spaces);
    tcase_add_test(tc_phrase, test_mime_phrase_encodes_ascii_too_long_to_fold);
    tcase_add_test(tc_phrase, test_mime_html_escape_escapes_all_five_characters);
    suite_add_tcase(s, tc_phrase);

    tcase_add_test(tc_build, test_mime_build_verification_has_each_header_exactly_once);
    tcase_add_test(tc_build, test_mime_build_encodes_a_non_ascii_to_name);
    tcase_add_test(tc_build, test_mime_build_uses_bare_address_without_a_name);
    tcase_add_test(tc_build, test_mime_build_encodes_a_non_ascii_from_name);
    tcase_add_test(tc_build, test_mime_build_has_text_then_html_parts_in_quoted_printable);
    tcase_add_test(tc_build, test_mime_build_keeps_every_line_crlf_and_short);
    tcase_add_test(tc_build, test_mime_build_text_part_has_the_link_alone_on_a_line);
    tcase_add_test(tc_build, test_mime_build_html_part_has_the_button_and_the_fallback_link);
    tcase_add_test(tc_build, test_mime_build_escapes_the_name_in_html);
    tcase_add_loop_test(tc_build, test_mime_build_states_the_expiry_in_hours_or_minutes, 0,
                        sizeof EXPIRY / sizeof EXPIRY[0]);
    tcase_add_test(tc_build, test_mime_build_boundary_is_valid_and_absent_from_the_bodies);
    tcase_add_test(tc_build, test_mime_build_does_not_depend_on_the_time_zone);
    tcase_add_loop_test(tc_build, test_mime_build_rejects_header_injection, 0, 4 * 3);
    tcase_add_test(tc_build, test_mime_build_rejects_unsafe_addresses);
    tcase_add_test(tc_build, test_mime_build_rejects_links_that_are_not_http);
    tcase_add_test(tc_build, test_mime_build_already_registered_has_no_verify_link);
    tcase_add_test(tc_build, test_mime_build_already_registered_says_what_to_do);
    tcase_add_test(tc_build, test_mime_build_signin_attempts_notice_warns_without_acting_on_the_account);
    suite_add_tcase(s, tc_build);

    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
