/**
 * A thin, typed client for signup-api.
 *
 * All the types come from `schema.d.ts`, which `npm run generate` writes from
 * ../../openapi.yaml; the HTTP calls are made by openapi-fetch. This file only
 * names the operations and turns openapi-fetch's `{ data, error, response }`
 * into a union discriminated by HTTP status, so that after
 * `if (r.status === 422)` TypeScript knows `r.body` is exactly what the spec
 * documents for a 422 of that operation — and comparing `r.status` with a
 * status the spec does not list for the operation is a compile error.
 */
import createClient, { mergeHeaders, type Client, type ClientOptions } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type { components, paths };

/** The JSON request body of an operation. */
type JsonRequestBody<Op> = Op extends { requestBody?: { content: { "application/json": infer Body } } }
  ? Body
  : never;

type ResponsesOf<Op> = Op extends { responses: infer Responses } ? Responses : never;

/** The body a response object documents (the union over its media types), or undefined when it has none. */
type BodyOf<Response> = Response extends { content: infer Content } ? Content[keyof Content] : undefined;

/**
 * One answer of an operation: for every status the spec documents, its status,
 * the body documented for it, and the raw fetch Response (headers etc.).
 */
export type ApiResult<Op> = {
  [Status in keyof ResponsesOf<Op> & number]: {
    status: Status;
    body: BodyOf<ResponsesOf<Op>[Status]>;
    response: Response;
  };
}[keyof ResponsesOf<Op> & number];

export type SignUpOperation = paths["/signup"]["post"];
export type VerifyOperation = paths["/verify"]["get"];
export type ResendOperation = paths["/verify/resend"]["post"];
export type SignInOperation = paths["/signin"]["post"];
export type SessionOperation = paths["/session"]["get"];
export type SignOutOperation = paths["/signout"]["post"];
export type SignOutEverywhereOperation = paths["/signout/all"]["post"];
export type ForgotPasswordOperation = paths["/password/forgot"]["post"];
export type ResetPasswordOperation = paths["/password/reset"]["post"];
export type ChangePasswordOperation = paths["/password/change"]["post"];
export type HealthzOperation = paths["/healthz"]["get"];
export type ReadyzOperation = paths["/readyz"]["get"];
export type MetricsOperation = paths["/metrics"]["get"];
export type OpenApiOperation = paths["/openapi.yaml"]["get"];

/** What POST /signup accepts. */
export type SignUpRequest = JsonRequestBody<SignUpOperation>;
/** What POST /verify/resend accepts. */
export type ResendRequest = JsonRequestBody<ResendOperation>;
/** What POST /signin accepts. */
export type SignInRequest = JsonRequestBody<SignInOperation>;
/** What POST /password/reset accepts. */
export type ResetPasswordRequest = JsonRequestBody<ResetPasswordOperation>;
/** What POST /password/change accepts. */
export type ChangePasswordRequest = JsonRequestBody<ChangePasswordOperation>;

/** The shape openapi-fetch resolves to (either member of its data/error union). */
interface FetchOutcome {
  data?: unknown;
  error?: unknown;
  response: Response;
}

/**
 * Re-labels openapi-fetch's outcome by status. The cast is the one place where
 * the wire meets the types — the same trust openapi-fetch itself places in the
 * spec; the contract tests check the server against openapi.yaml.
 */
async function byStatus<Op>(pending: Promise<FetchOutcome>): Promise<ApiResult<Op>> {
  const { data, error, response } = await pending;
  return { status: response.status, body: response.ok ? data : error, response } as ApiResult<Op>;
}

/** The header of the operations with `bearerAuth` security (openapi-typescript does not type security schemes). */
function bearer(sessionToken: string): { Authorization: string } {
  return { Authorization: `Bearer ${sessionToken}` };
}

export interface SignupClient {
  /** POST /signup — 201 pending_verification, or a problem (400, 405, 413, 415, 422, 503, …). */
  signUp(body: SignUpRequest): Promise<ApiResult<SignUpOperation>>;
  /** GET /verify?token=… — what opening the link in the email does. */
  verify(token: string): Promise<ApiResult<VerifyOperation>>;
  /** POST /verify/resend — always the same 202 for a well-formed address. */
  resendVerification(email: string): Promise<ApiResult<ResendOperation>>;
  /** POST /signin — 200 with a session token, or a problem (401 for an unknown email and a wrong password alike, 403, 422, 429, …). */
  signIn(body: SignInRequest): Promise<ApiResult<SignInOperation>>;
  /** GET /session with the session token — whoami: the account and the session. */
  session(sessionToken: string): Promise<ApiResult<SessionOperation>>;
  /** POST /signout with the session token — ends this session (204). */
  signOut(sessionToken: string): Promise<ApiResult<SignOutOperation>>;
  /** POST /signout/all with the session token — ends every session of the account (204). */
  signOutEverywhere(sessionToken: string): Promise<ApiResult<SignOutEverywhereOperation>>;
  /** POST /password/forgot — always the same 202 for a well-formed address; a reset email goes to an existing account. */
  forgotPassword(email: string): Promise<ApiResult<ForgotPasswordOperation>>;
  /** POST /password/reset — the token of the reset email and a new password (200, or 400 invalid_token, 410, 422, …). */
  resetPassword(body: ResetPasswordRequest): Promise<ApiResult<ResetPasswordOperation>>;
  /** POST /password/change with the session token — 200 signs out every other session (401, 422, 429, …). */
  changePassword(sessionToken: string, body: ChangePasswordRequest): Promise<ApiResult<ChangePasswordOperation>>;
  /** GET /healthz — liveness. */
  healthz(): Promise<ApiResult<HealthzOperation>>;
  /** GET /readyz — readiness (PostgreSQL reachable). */
  readyz(): Promise<ApiResult<ReadyzOperation>>;
  /** GET /metrics — Prometheus text. */
  metrics(): Promise<ApiResult<MetricsOperation>>;
  /** GET /openapi.yaml — the document this client was generated from. */
  openApiDocument(): Promise<ApiResult<OpenApiOperation>>;
  /** The underlying openapi-fetch client, for anything not wrapped above. */
  readonly raw: Client<paths>;
}

/**
 * A client for the signup-api served at `baseUrl` (e.g. "http://localhost:8080").
 * `options` go to openapi-fetch's createClient (custom fetch, headers, middleware…).
 */
export function createSignupClient(baseUrl: string, options: Omit<ClientOptions, "baseUrl"> = {}): SignupClient {
  const raw = createClient<paths>({
    ...options,
    baseUrl: baseUrl.replace(/\/+$/, ""),
    // An API client wants JSON: a browser-like Accept would make /verify answer
    // with a 303 to VERIFY_REDIRECT_URL when the server has one configured.
    headers: mergeHeaders({ Accept: "application/json" }, options.headers),
  });
  return {
    raw,
    signUp: (body) => byStatus<SignUpOperation>(raw.POST("/signup", { body })),
    verify: (token) => byStatus<VerifyOperation>(raw.GET("/verify", { params: { query: { token } } })),
    resendVerification: (email) => byStatus<ResendOperation>(raw.POST("/verify/resend", { body: { email } })),
    signIn: (body) => byStatus<SignInOperation>(raw.POST("/signin", { body })),
    session: (sessionToken) => byStatus<SessionOperation>(raw.GET("/session", { headers: bearer(sessionToken) })),
    signOut: (sessionToken) => byStatus<SignOutOperation>(raw.POST("/signout", { headers: bearer(sessionToken) })),
    signOutEverywhere: (sessionToken) =>
      byStatus<SignOutEverywhereOperation>(raw.POST("/signout/all", { headers: bearer(sessionToken) })),
    forgotPassword: (email) => byStatus<ForgotPasswordOperation>(raw.POST("/password/forgot", { body: { email } })),
    resetPassword: (body) => byStatus<ResetPasswordOperation>(raw.POST("/password/reset", { body })),
    changePassword: (sessionToken, body) =>
      byStatus<ChangePasswordOperation>(raw.POST("/password/change", { body, headers: bearer(sessionToken) })),
    healthz: () => byStatus<HealthzOperation>(raw.GET("/healthz")),
    readyz: () => byStatus<ReadyzOperation>(raw.GET("/readyz")),
    metrics: () => byStatus<MetricsOperation>(raw.GET("/metrics", { parseAs: "text", headers: { Accept: "text/plain" } })),
    openApiDocument: () =>
      byStatus<OpenApiOperation>(raw.GET("/openapi.yaml", { parseAs: "text", headers: { Accept: "application/yaml" } })),
  };
}
