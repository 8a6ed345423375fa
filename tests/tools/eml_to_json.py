#!/usr/bin/python3
"""Describes a saved email (.eml) as JSON, for the C integration tests.

  eml_to_json.py FILE
      {"headers": {lower-cased name: [decoded values]},
       "addresses": {"from"|"to"|...: [{"display_name", "addr_spec"}]},
                                        # RFC 2047 6.2 decoding (see decode_words)
       "raw_header_lines": n,
       "max_line_octets": n, "has_bare_lf": bool, "has_bare_cr": bool,
       "header_is_ascii": bool,          # raw header block is 7-bit
       "date_epoch": seconds or null,    # the Date header, parsed
       "content_type": "multipart/alternative",
       "parts": [{"content_type", "charset", "transfer_encoding", "text"}],
                                        # text: decoded, line ends as "\n"
       "anchors": [{"href", "text"}],   # every <a href> of the HTML parts
       "links": [...]}                  # every href in HTML parts, every http(s) URL in text parts
      Header values are decoded with email.policy.default (RFC 2047 words
      become text). Line facts are about the raw bytes, as received: lengths
      exclude the CRLF; a bare LF is an LF without CR before it, a bare CR a
      CR without LF after it. The catcher's X-Envelope-* lines are included.

  eml_to_json.py --find DIR RECIPIENT [--subject S] [--after-count N]
      A JSON array of the paths of DIR/*.eml whose X-Envelope-To (added by
      scripts/mail-catcher.py) equals RECIPIENT, ignoring case, sorted by
      name (the catcher names files by time and sequence). --subject keeps
      only messages with exactly that decoded Subject; --after-count N drops
      the first N matches, so a poller can wait for arrivals after the N it
      has already seen.

  eml_to_json.py --index DIR
      {"recipient (lower-cased)": [paths, sorted]} for every .eml in DIR, so
      a test can count many recipients' messages in one call.

Standard library only.
"""

import email
import email.header
import email.parser
import email.policy
import email.utils
import html.parser
import json
import os
import re
import sys

URL_RE = re.compile(r"""https?://[^\s<>"'`]+""", re.IGNORECASE)
TRAILING_PUNCT = ".,;:!?)]}>'\""
# Envelope lines come first; a header block larger than this is not ours.
HEAD_READ_LIMIT = 64 * 1024


class AnchorParser(html.parser.HTMLParser):
    """Collects every <a href> with its text (entities already decoded)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.anchors = []
        self._open = None

    def handle_starttag(self, tag, attrs):
        if tag != "a":
            return
        href = dict(attrs).get("href")
        if href is not None:
            self._open = {"href": href, "text": ""}
            self.anchors.append(self._open)

    def handle_endtag(self, tag):
        if tag == "a":
            self._open = None

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data


def split_head(data):
    """The raw header block (without the blank line ending it)."""
    for sep in (b"\r\n\r\n", b"\n\n"):
        end = data.find(sep)
        if end >= 0:
            return data[:end]
    return data


def decode_words(text):
    """RFC 2047 decoding as RFC 2047 section 6.2 says: white space between
    adjacent encoded-words is dropped. (policy.default keeps a space there
    in address headers, which would garble long non-ASCII names.)"""
    return str(email.header.make_header(email.header.decode_header(text)))


def address_headers(data):
    """{"to": [{"display_name", "addr_spec"}], ...} from the raw headers."""
    raw = email.message_from_bytes(data, policy=email.policy.compat32)
    result = {}
    for name in ("from", "to", "cc", "reply-to", "sender"):
        values = raw.get_all(name) or []
        for display_name, addr_spec in email.utils.getaddresses([str(v) for v in values]):
            entry = {"display_name": decode_words(display_name), "addr_spec": addr_spec}
            result.setdefault(name, []).append(entry)
    return result


def line_facts(data):
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    max_len = 0
    for line in lines:
        n = len(line) - 1 if line.endswith(b"\r") else len(line)
        max_len = max(max_len, n)
    has_bare_lf = re.search(rb"(?<!\r)\n", data) is not None
    has_bare_cr = re.search(rb"\r(?!\n)", data) is not None
    return max_len, has_bare_lf, has_bare_cr


def part_text(part):
    """The decoded text with line ends normalised to LF (the raw line ends
    are reported by has_bare_lf / has_bare_cr)."""
    try:
        text = part.get_content()
    except Exception:  # undecodable charset: still show what is there
        payload = part.get_payload(decode=True) or b""
        text = payload.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n") if isinstance(text, str) else text


def describe(path):
    with open(path, "rb") as f:
        data = f.read()
    msg = email.message_from_bytes(data, policy=email.policy.default)

    headers = {}
    for name, value in msg.items():
        headers.setdefault(name.lower(), []).append(str(value))
    addresses = address_headers(data)
    head = split_head(data)
    raw_header_lines = len(re.split(rb"\r?\n", head)) if head else 0
    try:
        date_epoch = email.utils.parsedate_to_datetime(msg["Date"]).timestamp() if msg["Date"] else None
    except (TypeError, ValueError):
        date_epoch = None
    max_line, bare_lf, bare_cr = line_facts(data)

    parts, links, anchors = [], [], []
    for part in msg.walk():
        if part.is_multipart():
            continue
        text = part_text(part) if part.get_content_maintype() == "text" else None
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "transfer_encoding": (part.get("Content-Transfer-Encoding") or "").strip().lower() or None,
            "text": text if isinstance(text, str) else None,
        })
        if not isinstance(text, str):
            continue
        if part.get_content_subtype() == "html":
            parser = AnchorParser()
            parser.feed(text)
            parser.close()
            anchors += parser.anchors
            links += [a["href"] for a in parser.anchors]
        else:
            links += [m.group(0).rstrip(TRAILING_PUNCT) for m in URL_RE.finditer(text)]

    return {
        "path": os.path.abspath(path),
        "headers": headers,
        "addresses": addresses,
        "raw_header_lines": raw_header_lines,
        "header_is_ascii": all(b < 0x80 for b in head),
        "date_epoch": date_epoch,
        "max_line_octets": max_line,
        "has_bare_lf": bare_lf,
        "has_bare_cr": bare_cr,
        "content_type": msg.get_content_type(),
        "parts": parts,
        "anchors": anchors,
        "links": links,
    }


def read_head(path):
    """The header block of a message, read without loading the body."""
    with open(path, "rb") as f:
        data = f.read(HEAD_READ_LIMIT)
    return split_head(data)


ENVELOPE_TO_RE = re.compile(rb"^X-Envelope-To:[ \t]*(.*?)\r?$", re.MULTILINE | re.IGNORECASE)


def envelope_recipients(head):
    return [m.group(1).decode("utf-8", "replace").strip().lower() for m in ENVELOPE_TO_RE.finditer(head)]


def eml_files(directory):
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    # Dot files are the catcher's partial writes.
    return sorted(os.path.join(directory, n) for n in names if n.endswith(".eml") and not n.startswith("."))


def subject_of(head):
    msg = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(head + b"\r\n\r\n")
    return str(msg.get("Subject", ""))


def find(directory, recipient, subject=None, after_count=0):
    wanted = recipient.strip().lower()
    found = []
    for path in eml_files(directory):
        try:
            head = read_head(path)
        except OSError:
            continue
        if wanted not in envelope_recipients(head):
            continue
        if subject is not None and subject_of(head) != subject:
            continue
        found.append(os.path.abspath(path))
    return found[after_count:]


def index(directory):
    by_recipient = {}
    for path in eml_files(directory):
        try:
            head = read_head(path)
        except OSError:
            continue
        for r in envelope_recipients(head):
            by_recipient.setdefault(r, []).append(os.path.abspath(path))
    return by_recipient


def usage():
    sys.stderr.write("usage: eml_to_json.py FILE\n"
                     "       eml_to_json.py --find DIR RECIPIENT [--subject S] [--after-count N]\n"
                     "       eml_to_json.py --index DIR\n")
    return 2


def main(argv):
    if len(argv) == 2 and not argv[1].startswith("--"):
        result = describe(argv[1])
    elif len(argv) == 3 and argv[1] == "--index":
        result = index(argv[2])
    elif len(argv) >= 4 and argv[1] == "--find":
        subject, after_count = None, 0
        rest = argv[4:]
        while rest:
            if len(rest) < 2:
                return usage()
            option, value, rest = rest[0], rest[1], rest[2:]
            if option == "--subject":
                subject = value
            elif option == "--after-count":
                try:
                    after_count = int(value)
                except ValueError:
                    return usage()
                if after_count < 0:
                    return usage()
            else:
                return usage()
        result = find(argv[2], argv[3], subject, after_count)
    else:
        return usage()
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
