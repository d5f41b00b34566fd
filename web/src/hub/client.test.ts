// @vitest-environment node
/**
 * The hub client against a real `vigor serve` (built by cargo; see
 * scripts/vigor.mjs): authentication, subscribe and events, errors by id,
 * token renewal, and a dropped connection that reconnects and resumes with
 * `since` without a gap or a duplicate.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { HubClient, HubError, type HubEvent, type WebSocketLike } from "./client";
import {
  publishAs,
  registerPusher,
  signUpWithTokens,
  startVigor,
  type Pusher,
  type RunningVigor,
} from "../../scripts/vigor.mjs";

let vigor: RunningVigor;
let pusher: Pusher;
let data: string;

beforeAll(async () => {
  data = await mkdtemp(path.join(tmpdir(), "vigor-hub-test-"));
  pusher = await registerPusher(data);
  vigor = await startVigor({ dataDir: data });
}, 90_000);

afterAll(async () => {
  await vigor?.stop();
  await rm(data, { recursive: true, force: true });
});

/** Every socket the client opens, so a test can cut one like a network drop. */
function recordingSockets(): { Impl: WebSocketLike; sockets: WebSocket[] } {
  const sockets: WebSocket[] = [];
  class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      sockets.push(this);
    }
  }
  return { Impl: Recording as unknown as WebSocketLike, sockets };
}

function wsUrl(): string {
  return `${vigor.url.replace(/^http/, "ws")}/v1/ws`;
}

/** Resolves when `events` holds `n` events. */
async function until<T>(events: T[], n: number, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (events.length < n) {
    if (Date.now() > deadline) throw new Error(`only ${events.length} of ${n} events arrived`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let counter = 0;
async function user() {
  counter += 1;
  return signUpWithTokens(vigor.url, `hub${counter}-${Date.now()}@example.org`);
}

describe("HubClient against a real vigor", () => {
  it("authenticates, subscribes and receives what a backend publishes", async () => {
    const ann = await user();
    const client = new HubClient({ url: wsUrl(), token: async () => ann.accessToken, WebSocket: WebSocket as unknown as WebSocketLike });
    await client.connect();
    expect(client.status).toBe("open");
    expect(client.userId).toBe(ann.userId);

    const events: HubEvent[] = [];
    const channel = `user:${ann.userId}`;
    const { subscribed } = await client.subscribe(channel, (e) => events.push(e));
    expect(subscribed.channel).toBe(channel);

    await publishAs(vigor.url, pusher, channel, "achievement.unlocked", { name: "First workout" });
    await until(events, 1);
    expect(events[0]?.event).toBe("achievement.unlocked");
    expect(events[0]?.data).toEqual({ name: "First workout" });
    expect(client.lastSeq(channel)).toBe(events[0]?.seq);
    client.close();
  }, 30_000);

  it("rejects a refused request with the protocol's code, by id", async () => {
    const ann = await user();
    const bob = await user();
    const client = new HubClient({ url: wsUrl(), token: async () => ann.accessToken, WebSocket: WebSocket as unknown as WebSocketLike });
    await client.connect();
    // Another user's channel is forbidden; a malformed name is invalid.
    const forbidden = client.subscribe(`user:${bob.userId}`, () => undefined);
    const invalid = client.subscribe("user:007", () => undefined);
    await expect(forbidden).rejects.toMatchObject({ code: "forbidden" });
    await expect(invalid).rejects.toBeInstanceOf(HubError);
    await expect(invalid).rejects.toMatchObject({ code: "invalid_channel" });
    // The connection is still usable after errors.
    await expect(client.ping()).resolves.toBeNull();
    client.close();
  }, 30_000);

  it("renews its token before expiry on the same connection", async () => {
    const ann = await user();
    let asked = 0;
    const { Impl, sockets } = recordingSockets();
    const client = new HubClient({
      url: wsUrl(),
      token: async () => {
        asked += 1;
        return ann.accessToken;
      },
      WebSocket: Impl,
      // The token lives 15 minutes: renew "now" (a renewal is at least 1 s away).
      renewBeforeMs: 15 * 60 * 1000,
    });
    await client.connect();
    expect(asked).toBe(1);
    await new Promise((r) => setTimeout(r, 1_500));
    expect(asked).toBe(2);
    expect(sockets).toHaveLength(1);
    expect(client.status).toBe("open");
    client.close();
  }, 30_000);

  it("reconnects after a drop and resumes with since: no gap, no duplicate", async () => {
    const ann = await user();
    const { Impl, sockets } = recordingSockets();
    const client = new HubClient({
      url: wsUrl(),
      token: async () => ann.accessToken,
      WebSocket: Impl,
      minBackoffMs: 200,
      maxBackoffMs: 400,
    });
    await client.connect();
    const channel = `user:${ann.userId}`;
    const events: HubEvent[] = [];
    await client.subscribe(channel, (e) => events.push(e));
    await publishAs(vigor.url, pusher, channel, "level.up", { level: 1 });
    await until(events, 1);

    // The network drops; two events are published while the client is away.
    const statuses: string[] = [];
    client.onStatus((s) => statuses.push(s));
    sockets[0]?.terminate();
    await until(statuses, 1);
    expect(statuses[0]).toBe("reconnecting");
    await publishAs(vigor.url, pusher, channel, "level.up", { level: 2 });
    await publishAs(vigor.url, pusher, channel, "level.up", { level: 3 });

    await until(events, 3);
    await publishAs(vigor.url, pusher, channel, "level.up", { level: 4 });
    await until(events, 4);
    await new Promise((r) => setTimeout(r, 300));
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    expect(events.map((e) => (e.data as { level: number }).level)).toEqual([1, 2, 3, 4]);
    const seqs = events.map((e) => e.seq ?? 0);
    for (let i = 1; i < seqs.length; i += 1) expect(seqs[i]).toBe((seqs[i - 1] ?? 0) + 1);
    client.close();
  }, 30_000);

  it("stops reconnecting when the session is refused (4003 after sign-out)", async () => {
    const ann = await user();
    const client = new HubClient({ url: wsUrl(), token: async () => ann.accessToken, WebSocket: WebSocket as unknown as WebSocketLike, minBackoffMs: 100 });
    await client.connect();
    const statuses: string[] = [];
    client.onStatus((s) => statuses.push(s));
    // Revoking the refresh token ends the sign-in session everywhere.
    const revoked = await fetch(`${vigor.url}/v1/oauth/revoke`, {
      method: "POST",
      body: new URLSearchParams({ client_id: "vigor-web", token: ann.refreshToken }),
    });
    expect(revoked.ok).toBe(true);
    await until(statuses, 1, 5_000);
    expect(statuses).toEqual(["closed"]);
  }, 30_000);
});
