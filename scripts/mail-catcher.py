#!/usr/bin/python3
"""Development SMTP sink: accepts every message and saves it as an .eml file.

Environment:
  MAIL_CATCHER_HOST  listen address (default 127.0.0.1)
  MAIL_CATCHER_PORT  listen port (default 2525)
  MAIL_CATCHER_DIR   where messages go (default var/mail; a relative path is
                     taken relative to the project root, not the cwd)
  MAIL_CATCHER_REJECT  optional regular expression: RCPT TO addresses it matches
                     (re.search, case-insensitive) get "550 5.1.1 mailbox
                     unavailable", so tests can provoke permanent failures
  MAIL_CATCHER_PARSE  "0" skips parsing each message for its Subject and links
                     (the benchmark sets it: parsing costs this process more
                     CPU than everything else it does per message)

Each message is saved as <dir>/<YYYYmmddTHHMMSS>-<seq>.eml (UTC timestamp,
6-digit sequence number), with "X-Envelope-From: <sender>" ("<>" if null) and one
"X-Envelope-To: <recipient>" per recipient prepended (bare addresses, no angle
brackets). Files are written under a dot-prefixed temporary name and
then linked into place, so a reader globbing *.eml never sees a partial file.
One line per message goes to stdout, plus (unless MAIL_CATCHER_PARSE=0) one
"link:" line per URL containing "token=" found in the decoded text parts. SMTPUTF8 and 8BITMIME are supported;
there is no TLS and no AUTH. SIGTERM/SIGINT stop it cleanly.

Uses aiosmtpd (Debian 12: python3-aiosmtpd 1.4.x), hence /usr/bin/python3.
"""

import asyncio
import datetime
import email
import email.policy
import html
import itertools
import os
import re
import signal
import sys

from aiosmtpd.smtp import SMTP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
URL_RE = re.compile(r"""https?://[^\s<>"'`]+""", re.IGNORECASE)
TRAILING_PUNCT = ".,;:!?)]}>'\""


def log(line):
    print("mail-catcher: " + line, flush=True)


def env_port():
    raw = os.environ.get("MAIL_CATCHER_PORT", "2525")
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        sys.exit(f"mail-catcher: MAIL_CATCHER_PORT must be a TCP port number, got {raw!r}")
    return port


def one_line(text):
    """Make header/address text safe for a single log line."""
    return " ".join(str(text).split())


def token_links(msg):
    links = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        try:
            text = part.get_content()
        except Exception:  # undecodable part: fall back to the raw payload
            payload = part.get_payload(decode=True) or b""
            text = payload.decode("utf-8", errors="replace")
        if part.get_content_subtype() == "html":
            text = html.unescape(text)
        for match in URL_RE.finditer(text):
            url = match.group(0).rstrip(TRAILING_PUNCT)
            if "token=" in url and url not in links:
                links.append(url)
    return links


def env_reject():
    raw = os.environ.get("MAIL_CATCHER_REJECT") or ""
    if not raw:
        return None
    try:
        return re.compile(raw, re.IGNORECASE)
    except re.error as e:
        sys.exit(f"mail-catcher: MAIL_CATCHER_REJECT is not a valid regular expression: {e}")


class CatcherHandler:
    def __init__(self, directory, reject=None, parse=True):
        self.directory = directory
        self.reject = reject
        self.parse = parse
        self.seq = itertools.count(1)
        self.tmp_seq = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.reject is not None and self.reject.search(address):
            log(f"rejected recipient {one_line(address)}")
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    def _save(self, data):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
        tmp = os.path.join(self.directory, f".tmp-{os.getpid()}-{next(self.tmp_seq)}")
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            while True:
                path = os.path.join(self.directory, f"{stamp}-{next(self.seq):06d}.eml")
                try:
                    os.link(tmp, path)  # unlike rename, never replaces an existing file
                    return path
                except FileExistsError:
                    continue
        finally:
            os.unlink(tmp)

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or b""
        eol = b"\r\n" if b"\r\n" in content[:4096] or not content else b"\n"
        mail_from = envelope.mail_from or ""
        head = [b"X-Envelope-From: " + (one_line(mail_from) or "<>").encode("utf-8", "replace")]
        head += [b"X-Envelope-To: " + one_line(r).encode("utf-8", "replace") for r in envelope.rcpt_tos]
        data = eol.join(head) + eol + content
        try:
            path = await asyncio.get_running_loop().run_in_executor(None, self._save, data)
        except OSError as e:
            log(f"error: could not save message from {mail_from}: {e}")
            return "451 4.3.0 Could not save message"

        subject, links = "", []
        if not self.parse:
            rcpts = ",".join(one_line(r) for r in envelope.rcpt_tos)
            log(f"{one_line(mail_from)} -> {rcpts}: saved to {path}")
            return "250 2.0.0 OK: message saved"
        try:
            msg = email.message_from_bytes(content, policy=email.policy.default)
            subject = msg.get("Subject", "") or ""
            links = token_links(msg)
        except Exception as e:  # a broken message is still saved; just say so
            subject = f"(unparsable message: {e})"
        rcpts = ",".join(one_line(r) for r in envelope.rcpt_tos)
        log(f"{one_line(mail_from)} -> {rcpts}: {one_line(subject)} saved to {path}")
        for url in links:
            log(f"link: {url}")
        return "250 2.0.0 OK: message saved"


async def serve(host, port, directory, reject=None, parse=True):
    loop = asyncio.get_running_loop()
    handler = CatcherHandler(directory, reject, parse)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def factory():
        # An explicit hostname avoids a (possibly slow) getfqdn() per connection.
        return SMTP(handler, hostname="mail-catcher.localhost", enable_SMTPUTF8=True,
                    decode_data=False, ident="mail-catcher (aiosmtpd)")

    try:
        server = await loop.create_server(factory, host=host, port=port, reuse_address=True)
    except OSError as e:
        log(f"error: cannot listen on {host}:{port}: {e}")
        return 1
    log(f"listening on {host}:{port}, messages saved in {directory}"
        + (f", rejecting recipients matching {reject.pattern!r}" if reject is not None else ""))
    await stop.wait()
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), timeout=5)
    except asyncio.TimeoutError:
        pass
    log("stopped")
    return 0


def main():
    # Started as a daemon: do not keep open any descriptor inherited from the caller
    # beyond stdin/stdout/stderr (it could hold the caller's pipes open).
    os.closerange(3, os.sysconf("SC_OPEN_MAX") if hasattr(os, "sysconf") else 1024)
    host = os.environ.get("MAIL_CATCHER_HOST") or "127.0.0.1"
    port = env_port()
    reject = env_reject()
    directory = os.path.join(ROOT, os.environ.get("MAIL_CATCHER_DIR") or "var/mail")
    directory = os.path.abspath(directory)
    os.makedirs(directory, exist_ok=True)
    parse = os.environ.get("MAIL_CATCHER_PARSE", "1") != "0"
    sys.exit(asyncio.run(serve(host, port, directory, reject, parse)))


if __name__ == "__main__":
    main()
