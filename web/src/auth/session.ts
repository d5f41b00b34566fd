/**
 * The signed-in session of the web app, through Vigor's own OAuth 2.0
 * authorization code flow with PKCE and the first-party client `vigor-web`
 * (never the password grant in a browser).
 *
 * - `startSignIn` sends the browser to `/v1/oauth/authorize` (Vigor's login
 *   page) with a fresh verifier and state kept in `sessionStorage`;
 *   `completeSignIn` checks the state at `/callback` and trades the code.
 * - The tokens live in `localStorage`, so that a reload or another tab stays
 *   signed in without a refresh: a page load that refreshed every time could be
 *   unloaded after the server rotated the token and before the new one was
 *   kept, and the next use of the old one would end the session.
 *   `accessToken()` refreshes silently when the token is near expiry. Refresh tokens rotate and the reuse of a rotated
 *   one revokes the whole family, so every refresh — from any tab — runs under
 *   one Web Lock and re-reads the stored token inside it.
 * - `signOut` revokes the refresh token (RFC 7009) before forgetting it.
 */

import { challengeOf, randomToken } from "./pkce";

export const CLIENT_ID = "vigor-web";
const REFRESH_KEY = "vigor.refresh";
const ACCESS_KEY = "vigor.access";
const PENDING_KEY = "vigor.pkce";
/** Refresh when the access token has less than this left. */
const REFRESH_MARGIN_MS = 90_000;

/** The tokens of the token endpoint, as kept. */
interface Tokens {
  accessToken: string;
  refreshToken: string;
  /** Unix milliseconds. */
  expiresAt: number;
}

/** What `/callback` needs to finish a sign-in. */
interface Pending {
  verifier: string;
  state: string;
  returnTo: string;
}

/** A failed sign-in or refresh, with the OAuth error code when there is one. */
export class AuthError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = "AuthError";
  }
}

/** Where the authorization server sends the browser back. */
export function redirectUri(): string {
  return `${location.origin}/callback`;
}

/** The kept tokens, if they belong to the kept refresh token. */
function storedTokens(): Tokens | null {
  try {
    const raw = localStorage.getItem(ACCESS_KEY);
    const tokens = raw ? (JSON.parse(raw) as Tokens) : null;
    return tokens && tokens.refreshToken === localStorage.getItem(REFRESH_KEY) ? tokens : null;
  } catch {
    return null;
  }
}

let current: Tokens | null = typeof localStorage === "undefined" ? null : storedTokens();
const listeners = new Set<() => void>();

function notify(): void {
  for (const listener of listeners) listener();
}

/** Calls `listener` whenever the user signs in or out. */
export function onSessionChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Whether a session is stored (it may still turn out to be revoked). */
export function hasSession(): boolean {
  return current !== null || localStorage.getItem(REFRESH_KEY) !== null;
}

/** Sends the browser to Vigor's login page. */
export async function startSignIn(returnTo = "/"): Promise<void> {
  const pending: Pending = { verifier: randomToken(), state: randomToken(16), returnTo };
  sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: CLIENT_ID,
    redirect_uri: redirectUri(),
    // The whole API and the account itself (password, export, deletion).
    scope: "api account",
    state: pending.state,
    code_challenge: await challengeOf(pending.verifier),
    code_challenge_method: "S256",
  });
  location.assign(`/v1/oauth/authorize?${params.toString()}`);
}

async function tokenRequest(form: Record<string, string>): Promise<Tokens> {
  const response = await fetch("/v1/oauth/token", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: CLIENT_ID, ...form }),
  });
  const body: unknown = await response.json().catch(() => null);
  const field = (name: string): unknown =>
    typeof body === "object" && body !== null ? (body as Record<string, unknown>)[name] : undefined;
  if (!response.ok) {
    const code = typeof field("error") === "string" ? (field("error") as string) : undefined;
    const description = field("error_description");
    throw new AuthError(typeof description === "string" ? description : `token endpoint answered ${response.status}`, code);
  }
  const access = field("access_token");
  const refresh = field("refresh_token");
  const expiresIn = field("expires_in");
  if (typeof access !== "string" || typeof refresh !== "string" || typeof expiresIn !== "number") {
    throw new AuthError("the token endpoint's answer lacks a token");
  }
  return { accessToken: access, refreshToken: refresh, expiresAt: Date.now() + expiresIn * 1000 };
}

function keep(tokens: Tokens): void {
  current = tokens;
  localStorage.setItem(REFRESH_KEY, tokens.refreshToken);
  localStorage.setItem(ACCESS_KEY, JSON.stringify(tokens));
  notify();
}

/** Finishes a sign-in at `/callback`; answers where to go next. */
export async function completeSignIn(url: URL): Promise<string> {
  const raw = sessionStorage.getItem(PENDING_KEY);
  sessionStorage.removeItem(PENDING_KEY);
  const error = url.searchParams.get("error");
  if (error) throw new AuthError(url.searchParams.get("error_description") ?? error, error);
  if (!raw) throw new AuthError("no sign-in was started in this tab");
  const pending = JSON.parse(raw) as Pending;
  const code = url.searchParams.get("code");
  if (!code || url.searchParams.get("state") !== pending.state) {
    throw new AuthError("the answer does not belong to this sign-in");
  }
  keep(
    await tokenRequest({
      grant_type: "authorization_code",
      code,
      redirect_uri: redirectUri(),
      code_verifier: pending.verifier,
    }),
  );
  return pending.returnTo.startsWith("/") ? pending.returnTo : "/";
}

/** Runs `task` alone across the tabs of this origin (where Web Locks exist). */
async function exclusively<T>(task: () => Promise<T>): Promise<T> {
  if (typeof navigator !== "undefined" && "locks" in navigator) {
    return navigator.locks.request("vigor.refresh", task);
  }
  return task();
}

let refreshing: Promise<Tokens | null> | null = null;

async function refresh(): Promise<Tokens | null> {
  return exclusively(async () => {
    const stored = localStorage.getItem(REFRESH_KEY);
    if (!stored) {
      current = null;
      return null;
    }
    // Another tab may have refreshed while this one waited for the lock.
    if (!current || current.refreshToken !== stored) current = storedTokens();
    if (current && current.expiresAt - Date.now() > REFRESH_MARGIN_MS) return current;
    try {
      const tokens = await tokenRequest({ grant_type: "refresh_token", refresh_token: stored });
      keep(tokens);
      return tokens;
    } catch (error) {
      if (error instanceof AuthError && error.code === "invalid_grant") {
        forgetSession();
        return null;
      }
      throw error;
    }
  });
}

/** A valid access token, refreshed when near expiry; `null` when signed out. */
export async function accessToken(): Promise<string | null> {
  if (current && current.expiresAt - Date.now() > REFRESH_MARGIN_MS) return current.accessToken;
  refreshing ??= refresh().finally(() => {
    refreshing = null;
  });
  const tokens = await refreshing;
  return tokens?.accessToken ?? null;
}

/** Forgets the session here without asking the server (signed out, or the account is gone). */
export function forgetSession(): void {
  current = null;
  localStorage.removeItem(REFRESH_KEY);
  localStorage.removeItem(ACCESS_KEY);
  notify();
}

/**
 * An access token with a fresh sign-in time, for what needs a recent sign-in
 * (deleting the account): `POST /v1/auth/reauthenticate` with the password.
 */
export async function reauthenticate(password: string): Promise<string> {
  const token = await accessToken();
  const response = await fetch("/v1/auth/reauthenticate", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token ?? ""}` },
    body: JSON.stringify({ password }),
  });
  const body: unknown = await response.json().catch(() => null);
  const access = typeof body === "object" && body !== null ? (body as { access_token?: unknown }).access_token : undefined;
  if (!response.ok || typeof access !== "string") throw problemError(body, response.status);
  return access;
}

/** Revokes the refresh token on the server, then forgets the session. */
export async function signOut(): Promise<void> {
  const stored = localStorage.getItem(REFRESH_KEY);
  forgetSession();
  if (stored) {
    await fetch("/v1/oauth/revoke", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ client_id: CLIENT_ID, token: stored, token_type_hint: "refresh_token" }),
    });
  }
}

/** Creates an account (`POST /v1/auth/signup`); sign-in follows through the login page. */
export async function signUp(email: string, password: string, displayName: string): Promise<void> {
  const response = await fetch("/v1/auth/signup", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, display_name: displayName }),
  });
  if (!response.ok) {
    const problem: unknown = await response.json().catch(() => null);
    throw problemError(problem, response.status);
  }
}

/** An `Error` with the best message of an RFC 9457 problem. */
export function problemError(problem: unknown, status: number): Error {
  if (typeof problem === "object" && problem !== null) {
    const p = problem as { detail?: unknown; title?: unknown; errors?: unknown };
    if (Array.isArray(p.errors) && p.errors.length > 0) {
      const messages = p.errors
        .map((e: unknown) => {
          const fe = e as { field?: unknown; message?: unknown };
          return typeof fe.field === "string" && typeof fe.message === "string" ? `${fe.field}: ${fe.message}` : "";
        })
        .filter(Boolean);
      if (messages.length) return new Error(messages.join("; "));
    }
    if (typeof p.detail === "string") return new Error(p.detail);
    if (typeof p.title === "string") return new Error(p.title);
  }
  return new Error(`the server answered ${status}`);
}
