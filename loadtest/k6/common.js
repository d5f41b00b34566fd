// What the k6 scenarios share: settings from the environment, accounts, the
// publishing token, channel names and the stamp. See loadtest/README.md.
//
// Loads only target loopback addresses, like vigor-loadtest.

import http from "k6/http";
import encoding from "k6/encoding";

/** `__ENV[name]`, or `fallback` when unset or empty. */
export function env(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === "" ? fallback : value;
}

/** A positive number from the environment. */
export function number(name, fallback) {
  const value = Number(env(name, String(fallback)));
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number, not ${__ENV[name]}`);
  }
  return value;
}

/** A positive integer from the environment. */
export function integer(name, fallback) {
  const value = number(name, fallback);
  if (!Number.isInteger(value)) throw new Error(`${name} must be an integer`);
  return value;
}

/** `BASE_URL` (http://127.0.0.1:PORT), checked to be a loopback address. */
export function baseUrl() {
  const base = env("BASE_URL", "http://127.0.0.1:8080").replace(/\/+$/, "");
  const match = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\]):(\d+)$/.exec(base);
  if (!match) {
    throw new Error(`BASE_URL must be http://127.0.0.1:PORT (loads never leave the machine), not ${base}`);
  }
  return base;
}

/** Whether the target is the Node baseline (loadtest/peers/server.js). */
export const BASELINE = env("BASELINE", "0") === "1";

/** The channel names: `{n}` becomes 1, 2, … */
export function channelNames(template, count) {
  if (count > 1 && !template.includes("{n}")) {
    throw new Error(`CHANNEL_TEMPLATE ${template} has no {n} for ${count} channels`);
  }
  const names = [];
  for (let i = 0; i < count; i++) names.push(template.replace("{n}", String(1 + i)));
  return names;
}

/** Tokens from TOKENS_FILE (one per line), read in the init context. */
const TOKENS_FILE = env("TOKENS_FILE", "");
const FILE_TOKENS = TOKENS_FILE
  ? open(TOKENS_FILE)
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"))
  : null;

/** Access tokens for the WebSocket users: TOKENS_FILE, or USERS new sign-ups. */
export function userTokens(base, run) {
  if (BASELINE) return [];
  if (FILE_TOKENS) {
    if (FILE_TOKENS.length === 0) throw new Error(`${TOKENS_FILE} holds no tokens`);
    return FILE_TOKENS;
  }
  const users = integer("USERS", 10);
  const password = `k6-${run}-plum-harbour`;
  const tokens = [];
  for (let i = 0; i < users; i++) {
    const email = `k6-${run}-${i}@example.com`;
    const signup = http.post(
      `${base}/v1/auth/signup`,
      JSON.stringify({ email, password, display_name: "k6" }),
      { headers: { "content-type": "application/json" }, tags: { name: "signup" } },
    );
    if (signup.status !== 201) throw new Error(`signup answered ${signup.status}: ${signup.body}`);
    const grant = http.post(
      `${base}/v1/oauth/token`,
      { grant_type: "password", client_id: "vigor-web", username: email, password },
      { tags: { name: "token" } },
    );
    if (grant.status !== 200) throw new Error(`password grant answered ${grant.status}: ${grant.body}`);
    tokens.push(grant.json("access_token"));
  }
  return tokens;
}

/**
 * The token publishes use: PUBLISH_TOKEN, or the client-credentials grant of
 * CLIENT_ID / CLIENT_SECRET (a confidential client with the hub.publish scope).
 */
export function publishToken(base) {
  if (BASELINE) return "";
  const given = env("PUBLISH_TOKEN", "");
  if (given) return given;
  const id = env("CLIENT_ID", "");
  const secret = env("CLIENT_SECRET", "");
  if (!id || !secret) {
    throw new Error("publishing to Vigor needs CLIENT_ID and CLIENT_SECRET (scope hub.publish), or PUBLISH_TOKEN");
  }
  const grant = http.post(
    `${base}/v1/oauth/token`,
    { grant_type: "client_credentials", scope: "hub.publish" },
    {
      headers: { authorization: `Basic ${encoding.b64encode(`${id}:${secret}`)}` },
      tags: { name: "token" },
    },
  );
  if (grant.status !== 200) throw new Error(`client-credentials grant answered ${grant.status}: ${grant.body}`);
  return grant.json("access_token");
}

/** A random tag for this run, carried in every stamp. */
export function runTag() {
  return Math.floor(Math.random() * 0xffffffff);
}

/** The WebSocket URL of Vigor's hub, or of the baseline in `room`. */
export function wsUrl(base, room, sendOnly) {
  const ws = base.replace(/^http/, "ws");
  if (!BASELINE) return `${ws}/v1/ws`;
  const query = `room=${encodeURIComponent(room)}${sendOnly ? "&send_only=1" : ""}`;
  return `${ws}/?${query}`;
}

/** The subprotocols a Vigor session authenticates with. */
export function protocols(token) {
  return BASELINE ? undefined : ["vigor.v1", `bearer.${token}`];
}

/** Milliseconds, formatted. */
export function ms(value) {
  return value === undefined ? "-" : `${value.toFixed(2)} ms`;
}

/** A metric's value from a summary, or `fallback`. */
export function metric(data, name, stat, fallback) {
  const m = data.metrics[name];
  return m && m.values && m.values[stat] !== undefined ? m.values[stat] : fallback;
}
