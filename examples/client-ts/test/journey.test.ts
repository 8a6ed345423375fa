/**
 * The whole journey, end to end, through the generated client:
 * sign up → sign in too early (403) → verification email → open the link →
 * verified → open it again → already_verified; resend; sign in (a wrong
 * password and an unknown email get one 401) → whoami → sign out → the token
 * answers 401; sign out everywhere ends every session; forgot password →
 * the reset email → reset (the old password fails, the new one works, older
 * sessions are over) → change password while signed in; and the typed
 * problems on the way.
 *
 *   API_URL        base URL of a running signup-api (required)
 *   TEST_MAIL_DIR  where the mail catcher saves each email as *.eml (required)
 *
 * Every API call goes through createSignupClient; the only hand-written I/O is
 * reading the saved emails.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import { createSignupClient, type SignUpRequest } from "../src/client.js";

const API_URL = requiredEnv("API_URL");
const TEST_MAIL_DIR = requiredEnv("TEST_MAIL_DIR");
const MAIL_TIMEOUT_MS = 30_000;
const VERIFY_SUBJECT = "Verify your email address";
const RESET_SUBJECT = "Reset your password";

const FORGOT_MESSAGE = "If an account uses this address, we have sent it an email with a link to reset the password.";
const RESET_MESSAGE = "Your password has been changed. You can now sign in with your new password.";
const CONGRATULATIONS =
  "Congratulations Your account has been successfully created!. Please check your email for your account verification.";

const api = createSignupClient(API_URL);
const unique = `${Date.now()}-${process.pid}`;
const email = `client-ts-${unique}@lintasarta.co.id`;
const signUp: SignUpRequest = {
  full_name: "Budi Santoso",
  email,
  password: `Str0ng!Pass-${unique}`,
  phone_number: "0812-3456-7890",
  accept_terms: true,
};

/** `expected` must be a value of the type the spec gives `actual`, or this does not compile. */
function expectEqual<T>(actual: T, expected: NoInfer<T>, message?: string): void {
  assert.deepEqual(actual, expected, message);
}

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} must be set (see README.md)`);
  return value;
}

function describeResult(result: { status: number; body: unknown }): string {
  return `HTTP ${result.status}: ${JSON.stringify(result.body)}`;
}

before(async () => {
  const health = await api.healthz();
  assert.equal(health.status, 200, `signup-api at ${API_URL} is not up: ${describeResult(health)}`);
});

let token: string | undefined;

test("sign-up with a corporate email answers 201 with the Congratulations message", async () => {
  const result = await api.signUp(signUp);
  if (result.status !== 201) assert.fail(`expected 201, got ${describeResult(result)}`);
  expectEqual(result.body.status, "pending_verification");
  expectEqual(result.body.email, email);
  expectEqual(result.body.message, CONGRATULATIONS);
  assert.equal(result.response.headers.get("cache-control"), "no-store");
});

test("a password without a symbol is a typed 422 that says so", async () => {
  const result = await api.signUp({ ...signUp, email: `client-ts-nosymbol-${unique}@lintasarta.co.id`, password: "Str0ngPassw0rd2026" });
  if (result.status !== 422) assert.fail(`expected 422, got ${describeResult(result)}`);
  assert.match(result.response.headers.get("content-type") ?? "", /^application\/problem\+json/);
  expectEqual(result.body.status, 422);
  expectEqual(result.body.code, "validation_failed");
  // Typed: this only compiles if the spec allows this field, code and message.
  const expected: (typeof result.body.errors)[number] = {
    field: "password",
    code: "password_missing_symbol",
    message: "must include the symbol",
  };
  assert.deepEqual(
    result.body.errors.filter((error) => error.field === "password"),
    [expected],
  );
});

test("signing in before verifying is a typed 403 email_not_verified (and sends a new email)", async () => {
  const result = await api.signIn({ email, password: signUp.password });
  if (result.status !== 403) assert.fail(`expected 403, got ${describeResult(result)}`);
  expectEqual(result.body.code, "email_not_verified");
  assert.match(result.body.detail, /verification email/i);
});

test("the verification email arrives and carries a token", async () => {
  const link = await waitForLink(TEST_MAIL_DIR, email, VERIFY_SUBJECT, MAIL_TIMEOUT_MS);
  token = link.searchParams.get("token") ?? undefined;
  assert.ok(token, `no token in ${link.href}`);
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, "a 256-bit token in base64url");
});

test("opening the link verifies the address", async () => {
  assert.ok(token, "no token (the email step failed)");
  const result = await api.verify(token);
  if (result.status !== 200) assert.fail(`expected 200, got ${describeResult(result)}`);
  expectEqual(result.body.status, "verified");
  expectEqual(result.body.email, email);
});

test("opening it again (a mail scanner, a second click) answers already_verified", async () => {
  assert.ok(token, "no token (the email step failed)");
  const result = await api.verify(token);
  if (result.status !== 200) assert.fail(`expected 200, got ${describeResult(result)}`);
  expectEqual(result.body.status, "already_verified");
  expectEqual(result.body.email, email);
});

test("resend answers the same 202 for a verified address and an unknown one", async () => {
  const verified = await api.resendVerification(email);
  const unknown = await api.resendVerification(`client-ts-unknown-${unique}@lintasarta.co.id`);
  if (verified.status !== 202) assert.fail(`expected 202, got ${describeResult(verified)}`);
  if (unknown.status !== 202) assert.fail(`expected 202, got ${describeResult(unknown)}`);
  expectEqual(verified.body.status, "accepted");
  assert.ok(verified.body.message.length > 0);
  assert.deepEqual(unknown.body, verified.body, "resend must not reveal whether an address has an account");
});

test("a wrong password and an unknown email get the same typed 401 invalid_credentials", async () => {
  const wrong = await api.signIn({ email, password: `${signUp.password}-wrong` });
  const unknown = await api.signIn({ email: `client-ts-nobody-${unique}@lintasarta.co.id`, password: signUp.password });
  if (wrong.status !== 401) assert.fail(`expected 401, got ${describeResult(wrong)}`);
  if (unknown.status !== 401) assert.fail(`expected 401, got ${describeResult(unknown)}`);
  expectEqual(wrong.body.code, "invalid_credentials");
  assert.deepEqual(unknown.body, wrong.body, "sign-in must not reveal whether an address has an account");
});

test("an empty password is a typed 422 password_required", async () => {
  const result = await api.signIn({ email, password: "" });
  if (result.status !== 422) assert.fail(`expected 422, got ${describeResult(result)}`);
  const expected: (typeof result.body.errors)[number] = { field: "password", code: "password_required", message: "is required" };
  assert.deepEqual(result.body.errors, [expected]);
});

let sessionToken: string | undefined;

test("signing in with the right password answers 200 with a Bearer session token and the account", async () => {
  const result = await api.signIn({ email, password: signUp.password });
  if (result.status !== 200) assert.fail(`expected 200, got ${describeResult(result)}`);
  expectEqual(result.body.status, "signed_in");
  expectEqual(result.body.token_type, "Bearer");
  assert.match(result.body.session_token, /^[A-Za-z0-9_-]{43}$/, "256 random bits in base64url");
  assert.ok(Date.parse(result.body.expires_at) > Date.now(), `expires_at ${result.body.expires_at} is not in the future`);
  expectEqual(result.body.account.email, email);
  expectEqual(result.body.account.full_name, signUp.full_name);
  expectEqual(result.body.account.phone_number, "+6281234567890");
  assert.ok(!Number.isNaN(Date.parse(result.body.account.email_verified_at)));
  assert.equal(result.response.headers.get("cache-control"), "no-store");
  sessionToken = result.body.session_token;
});

test("whoami (GET /session) with the token answers the same account and the session", async () => {
  assert.ok(sessionToken, "no session token (the sign-in step failed)");
  const result = await api.session(sessionToken);
  if (result.status !== 200) assert.fail(`expected 200, got ${describeResult(result)}`);
  expectEqual(result.body.account.email, email);
  expectEqual(result.body.account.full_name, signUp.full_name);
  assert.ok(Date.parse(result.body.session.created_at) <= Date.parse(result.body.session.expires_at));
});

test("signing out answers 204, and the token answers a typed 401 unauthorized from then on", async () => {
  assert.ok(sessionToken, "no session token (the sign-in step failed)");
  const out = await api.signOut(sessionToken);
  if (out.status !== 204) assert.fail(`expected 204, got ${describeResult(out)}`);
  const after = await api.session(sessionToken);
  if (after.status !== 401) assert.fail(`expected 401, got ${describeResult(after)}`);
  expectEqual(after.body.code, "unauthorized");
  assert.match(after.response.headers.get("www-authenticate") ?? "", /^Bearer\b/);
  const again = await api.signOut(sessionToken);
  assert.equal(again.status, 401, `signing out with a revoked token: ${describeResult(again)}`);
});

test("without a token, whoami is the same 401", async () => {
  const result = await api.raw.GET("/session");
  assert.equal(result.response.status, 401);
  assert.match(result.response.headers.get("www-authenticate") ?? "", /^Bearer\b/);
});

test("signing out everywhere ends every session of the account", async () => {
  const first = await api.signIn({ email, password: signUp.password });
  const second = await api.signIn({ email, password: signUp.password });
  if (first.status !== 200) assert.fail(`expected 200, got ${describeResult(first)}`);
  if (second.status !== 200) assert.fail(`expected 200, got ${describeResult(second)}`);
  assert.notEqual(first.body.session_token, second.body.session_token);
  const out = await api.signOutEverywhere(first.body.session_token);
  if (out.status !== 204) assert.fail(`expected 204, got ${describeResult(out)}`);
  for (const token of [first.body.session_token, second.body.session_token]) {
    const result = await api.session(token);
    assert.equal(result.status, 401, `a session survived sign-out everywhere: ${describeResult(result)}`);
  }
});

let resetToken: string | undefined;
let sessionBeforeReset: string | undefined;
const resetPassword = `N3w!Pass-${unique}`;
const changedPassword = `Ch4nged!Pass-${unique}`;

test("forgot password answers the same typed 202 for the account's address and an unknown one", async () => {
  const before = await api.signIn({ email, password: signUp.password });
  if (before.status !== 200) assert.fail(`expected 200, got ${describeResult(before)}`);
  sessionBeforeReset = before.body.session_token;
  const known = await api.forgotPassword(email);
  const unknown = await api.forgotPassword(`client-ts-forgot-${unique}@lintasarta.co.id`);
  if (known.status !== 202) assert.fail(`expected 202, got ${describeResult(known)}`);
  if (unknown.status !== 202) assert.fail(`expected 202, got ${describeResult(unknown)}`);
  expectEqual(known.body.status, "accepted");
  expectEqual(known.body.message, FORGOT_MESSAGE);
  assert.deepEqual(unknown.body, known.body, "forgot must not reveal whether an address has an account");
  assert.equal(known.response.headers.get("cache-control"), "no-store");
});

test("a malformed address is a typed 422 email_invalid", async () => {
  const result = await api.forgotPassword("not-an-email");
  if (result.status !== 422) assert.fail(`expected 422, got ${describeResult(result)}`);
  const expected: (typeof result.body.errors)[number] = { field: "email", code: "email_invalid", message: "must be a valid email address" };
  assert.deepEqual(result.body.errors, [expected]);
});

test("the reset email arrives with a link to the reset page that carries a token", async () => {
  const link = await waitForLink(TEST_MAIL_DIR, email, RESET_SUBJECT, MAIL_TIMEOUT_MS);
  assert.match(link.pathname, /\/reset-password\.html$/, `the reset link ${link.origin}${link.pathname} is not the reset page`);
  resetToken = link.searchParams.get("token") ?? undefined;
  assert.ok(resetToken, "no token in the reset link");
  assert.match(resetToken, /^[A-Za-z0-9_-]{43}$/, "a 256-bit token in base64url");
});

test("a new password without a symbol is a typed 422 on field password, and the link stays usable", async () => {
  assert.ok(resetToken, "no reset token (the email step failed)");
  const result = await api.resetPassword({ token: resetToken, password: "N3wPassw0rdNoSymbol" });
  if (result.status !== 422) assert.fail(`expected 422, got ${describeResult(result)}`);
  const expected: (typeof result.body.errors)[number] = { field: "password", code: "password_missing_symbol", message: "must include the symbol" };
  assert.deepEqual(result.body.errors, [expected]);
});

test("resetting with the link answers 200 password_changed and ends the sessions from before", async () => {
  assert.ok(resetToken, "no reset token (the email step failed)");
  const result = await api.resetPassword({ token: resetToken, password: resetPassword });
  if (result.status !== 200) assert.fail(`expected 200, got ${describeResult(result)}`);
  expectEqual(result.body.status, "password_changed");
  expectEqual(result.body.message, RESET_MESSAGE);
  assert.ok(sessionBeforeReset, "no session from before the reset");
  const old = await api.session(sessionBeforeReset);
  assert.equal(old.status, 401, `a session from before the reset survived it: ${describeResult(old)}`);
});

test("the used link is a typed 400 invalid_token", async () => {
  assert.ok(resetToken, "no reset token (the email step failed)");
  const result = await api.resetPassword({ token: resetToken, password: `${resetPassword}-again` });
  if (result.status !== 400) assert.fail(`expected 400, got ${describeResult(result)}`);
  expectEqual(result.body.code, "invalid_token");
  expectEqual(result.body.title, "The password reset link is not valid");
});

test("after the reset the old password fails and the new one signs in", async () => {
  const old = await api.signIn({ email, password: signUp.password });
  if (old.status !== 401) assert.fail(`expected 401, got ${describeResult(old)}`);
  const fresh = await api.signIn({ email, password: resetPassword });
  if (fresh.status !== 200) assert.fail(`expected 200, got ${describeResult(fresh)}`);
});

test("change password: a wrong current password, no session and a weak new password are typed problems", async () => {
  const signedIn = await api.signIn({ email, password: resetPassword });
  if (signedIn.status !== 200) assert.fail(`expected 200, got ${describeResult(signedIn)}`);
  const session = signedIn.body.session_token;
  const wrong = await api.changePassword(session, { current_password: `${resetPassword}-wrong`, new_password: changedPassword });
  if (wrong.status !== 401) assert.fail(`expected 401, got ${describeResult(wrong)}`);
  expectEqual(wrong.body.code, "invalid_credentials");
  const anonymous = await api.changePassword("", { current_password: resetPassword, new_password: changedPassword });
  if (anonymous.status !== 401) assert.fail(`expected 401, got ${describeResult(anonymous)}`);
  expectEqual(anonymous.body.code, "unauthorized");
  assert.match(anonymous.response.headers.get("www-authenticate") ?? "", /^Bearer\b/);
  const weak = await api.changePassword(session, { current_password: resetPassword, new_password: "Ch4ngedNoSymbol" });
  if (weak.status !== 422) assert.fail(`expected 422, got ${describeResult(weak)}`);
  const expected: (typeof weak.body.errors)[number] = { field: "new_password", code: "password_missing_symbol", message: "must include the symbol" };
  assert.deepEqual(weak.body.errors, [expected]);
});

test("changing the password answers 200, keeps this session and ends the other ones", async () => {
  const kept = await api.signIn({ email, password: resetPassword });
  const other = await api.signIn({ email, password: resetPassword });
  if (kept.status !== 200) assert.fail(`expected 200, got ${describeResult(kept)}`);
  if (other.status !== 200) assert.fail(`expected 200, got ${describeResult(other)}`);
  const result = await api.changePassword(kept.body.session_token, { current_password: resetPassword, new_password: changedPassword });
  if (result.status !== 200) assert.fail(`expected 200, got ${describeResult(result)}`);
  expectEqual(result.body.status, "password_changed");
  assert.equal((await api.session(kept.body.session_token)).status, 200, "the session used for the change was signed out");
  assert.equal((await api.session(other.body.session_token)).status, 401, "another session survived the change");
  assert.equal((await api.signIn({ email, password: resetPassword })).status, 401, "the previous password still signs in");
  assert.equal((await api.signIn({ email, password: changedPassword })).status, 200, "the new password does not sign in");
});

test("a bogus token is a typed 400 invalid_token", async () => {
  const result = await api.verify("bogus-token-that-was-never-issued");
  if (result.status !== 400) assert.fail(`expected 400, got ${describeResult(result)}`);
  expectEqual(result.body.status, 400);
  expectEqual(result.body.code, "invalid_token");
});

after(() => {
  if (token === undefined) console.error(`mail for ${email} was looked for in ${TEST_MAIL_DIR}`);
});

// --- reading the emails the mail catcher saved --------------------------------------------------

interface MimePart {
  headers: Map<string, string>;
  body: Buffer;
}

/**
 * Polls `dir` for the first email whose X-Envelope-To is `address` and whose
 * Subject is `subject`, and returns the link with a token from its text/plain
 * part (the link stands alone on a line).
 */
async function waitForLink(dir: string, address: string, subject: string, timeoutMs: number): Promise<URL> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Set<string>();
  for (;;) {
    let names: string[] = [];
    try {
      names = (await readdir(dir)).filter((name) => name.endsWith(".eml") && !name.startsWith(".")).sort();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
    for (const name of names) {
      if (seen.has(name)) continue;
      seen.add(name);
      const message = parsePart(await readFile(join(dir, name)));
      const recipients = headerValues(message, "x-envelope-to").map((value) => value.trim().toLowerCase());
      if (!recipients.includes(address.toLowerCase())) continue;
      if (!headerValues(message, "subject").includes(subject)) continue;
      const text = leafParts(message).find((part) => mediaType(part) === "text/plain");
      assert.ok(text, `${name} has no text/plain part`);
      const lines = decodeBody(text).split(/\r?\n/).map((line) => line.trim());
      const link = lines.find((line) => /^https?:\/\/\S+$/.test(line) && line.includes("token="));
      assert.ok(link, `${name}: no line with only the link in the text part`);
      return new URL(link);
    }
    if (Date.now() > deadline) assert.fail(`no "${subject}" email to ${address} in ${dir} within ${timeoutMs / 1000} s`);
    await sleep(200);
  }
}

/** Splits raw bytes into unfolded headers (names lower-cased; repeats joined by "\n") and body. */
function parsePart(raw: Buffer): MimePart {
  const text = raw.toString("latin1");
  const match = /\r?\n\r?\n/.exec(text);
  const headEnd = match ? match.index : text.length;
  const bodyStart = match ? match.index + match[0].length : text.length;
  const headers = new Map<string, string>();
  for (const line of text.slice(0, headEnd).replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? value : `${previous}\n${value}`);
  }
  return { headers, body: raw.subarray(bodyStart) };
}

function headerValues(part: MimePart, name: string): string[] {
  return part.headers.get(name)?.split("\n") ?? [];
}

function mediaType(part: MimePart): string {
  return (part.headers.get("content-type") ?? "text/plain").split(";")[0]!.trim().toLowerCase();
}

function contentTypeParam(part: MimePart, param: string): string | undefined {
  const contentType = part.headers.get("content-type") ?? "";
  const match = new RegExp(`;\\s*${param}\\s*=\\s*(?:"([^"]*)"|([^;\\s]+))`, "i").exec(contentType);
  return match ? (match[1] ?? match[2]) : undefined;
}

/** The non-multipart parts, depth first. */
function leafParts(part: MimePart): MimePart[] {
  if (!mediaType(part).startsWith("multipart/")) return [part];
  const boundary = contentTypeParam(part, "boundary");
  assert.ok(boundary, "multipart without a boundary");
  const body = part.body.toString("latin1");
  const delimiter = new RegExp(`(?:^|\\r?\\n)--${escapeRegExp(boundary)}(--)?[ \\t]*(?:\\r?\\n|$)`, "g");
  const parts: MimePart[] = [];
  let start: number | undefined;
  for (let match = delimiter.exec(body); match !== null; match = delimiter.exec(body)) {
    if (start !== undefined) parts.push(...leafParts(parsePart(Buffer.from(body.slice(start, match.index), "latin1"))));
    if (match[1] === "--") break;
    start = match.index + match[0].length;
  }
  return parts;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The part's text: transfer encoding undone, charset decoded. */
function decodeBody(part: MimePart): string {
  const encoding = (part.headers.get("content-transfer-encoding") ?? "7bit").trim().toLowerCase();
  let bytes: Buffer;
  if (encoding === "quoted-printable") bytes = decodeQuotedPrintable(part.body.toString("latin1"));
  else if (encoding === "base64") bytes = Buffer.from(part.body.toString("latin1"), "base64");
  else bytes = part.body;
  const charset = (contentTypeParam(part, "charset") ?? "us-ascii").toLowerCase();
  return new TextDecoder(charset === "us-ascii" ? "utf-8" : charset).decode(bytes);
}

/** RFC 2045 §6.7: "=" at the end of a line is a soft line break, "=XX" is the octet XX. */
function decodeQuotedPrintable(text: string): Buffer {
  // Trailing whitespace on a line is transport padding; then drop the soft breaks.
  const unfolded = text.replace(/[ \t]+(?=\r?\n|$)/g, "").replace(/=\r?\n/g, "");
  const bytes: number[] = [];
  for (let i = 0; i < unfolded.length; i++) {
    const hex = unfolded.slice(i + 1, i + 3);
    if (unfolded[i] === "=" && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(unfolded.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}
