// @vitest-environment jsdom
/**
 * The session's silent refresh against a fake token endpoint: a token near
 * expiry is refreshed once however many callers ask, the rotated refresh token
 * is kept, a refused one signs out, and sign-out revokes the stored token.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

interface Call {
  url: string;
  form: URLSearchParams;
}

let calls: Call[] = [];
let answer: (form: URLSearchParams) => Response;

function tokens(n: number, expiresIn = 900): Response {
  return new Response(
    JSON.stringify({ access_token: `access-${n}`, refresh_token: `refresh-${n}`, expires_in: expiresIn, token_type: "Bearer" }),
    { status: 200, headers: { "content-type": "application/json" } },
  );
}

beforeEach(() => {
  vi.resetModules();
  localStorage.clear();
  calls = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (url: string, init?: RequestInit) => {
      const form = new URLSearchParams(String(init?.body ?? ""));
      calls.push({ url, form });
      return answer(form);
    }),
  );
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe("the session", () => {
  it("refreshes a token near expiry once for concurrent callers and keeps the rotated one", async () => {
    localStorage.setItem("vigor.refresh", "refresh-0");
    localStorage.setItem("vigor.access", JSON.stringify({ accessToken: "access-0", refreshToken: "refresh-0", expiresAt: Date.now() + 30_000 }));
    answer = () => tokens(1);
    const session = await import("./session");
    const [a, b] = await Promise.all([session.accessToken(), session.accessToken()]);
    expect(a).toBe("access-1");
    expect(b).toBe("access-1");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe("/v1/oauth/token");
    expect(calls[0]?.form.get("grant_type")).toBe("refresh_token");
    expect(calls[0]?.form.get("refresh_token")).toBe("refresh-0");
    expect(calls[0]?.form.get("client_id")).toBe("vigor-web");
    expect(localStorage.getItem("vigor.refresh")).toBe("refresh-1");
    // Fresh now: no further call.
    expect(await session.accessToken()).toBe("access-1");
    expect(calls).toHaveLength(1);
  });

  it("uses a kept token that is still fresh without a refresh (a reload)", async () => {
    localStorage.setItem("vigor.refresh", "refresh-0");
    localStorage.setItem("vigor.access", JSON.stringify({ accessToken: "access-0", refreshToken: "refresh-0", expiresAt: Date.now() + 600_000 }));
    answer = () => tokens(1);
    const session = await import("./session");
    expect(await session.accessToken()).toBe("access-0");
    expect(calls).toHaveLength(0);
  });

  it("signs out when the refresh token is refused", async () => {
    localStorage.setItem("vigor.refresh", "refresh-0");
    answer = () =>
      new Response(JSON.stringify({ error: "invalid_grant", error_description: "revoked" }), {
        status: 400,
        headers: { "content-type": "application/json" },
      });
    const session = await import("./session");
    const changes = vi.fn();
    session.onSessionChange(changes);
    expect(await session.accessToken()).toBeNull();
    expect(session.hasSession()).toBe(false);
    expect(localStorage.getItem("vigor.refresh")).toBeNull();
    expect(changes).toHaveBeenCalled();
  });

  it("keeps the session when the network fails (offline), to try again later", async () => {
    localStorage.setItem("vigor.refresh", "refresh-0");
    answer = () => {
      throw new TypeError("Failed to fetch");
    };
    const session = await import("./session");
    await expect(session.accessToken()).rejects.toThrow("Failed to fetch");
    expect(localStorage.getItem("vigor.refresh")).toBe("refresh-0");
  });

  it("revokes the refresh token on sign-out", async () => {
    localStorage.setItem("vigor.refresh", "refresh-0");
    answer = () => new Response(null, { status: 200 });
    const session = await import("./session");
    await session.signOut();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.url).toBe("/v1/oauth/revoke");
    expect(calls[0]?.form.get("token")).toBe("refresh-0");
    expect(session.hasSession()).toBe(false);
  });
});
