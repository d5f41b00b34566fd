// ws-chat in k6: CHANNELS group chats of MEMBERS members each, every member
// subscribed to its chats over the hub, RATE messages/s sent through the social
// service for DURATION seconds; delivery ratio and send → stored → delivered
// latency. The same scenario as `vigor-loadtest ws-chat` (see loadtest/README.md).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e USERS=11 -e CHANNELS=20 -e MEMBERS=5 \
//          -e RATE=50 -e DURATION=10 loadtest/k6/ws-chat.js
//
// Start Vigor with `VIGOR_SOCIAL_SEND_RATE_PER_SEC=0` (a few synthetic users send
// far more than the per-person limit of 5/s) and `VIGOR_RATE_LIMIT_ENABLED=false`.
// Subscriber i is on chat i mod CHANNELS with token i mod USERS; setup() makes
// each chat with exactly those users (USERS must share no factor with CHANNELS,
// e.g. a prime, so that a chat's members are distinct). Each message's body is
// `{"lt":[RUN,SENT_MS]}` as text; a subscriber parses it from `chat.message`.

import http from "k6/http";
import exec from "k6/execution";
import encoding from "k6/encoding";
import { WebSocket } from "k6/experimental/websockets";
import { setTimeout } from "k6/timers";
import { Counter, Trend } from "k6/metrics";
import { baseUrl, env, integer, metric, ms, number, protocols, runTag, userTokens, wsUrl } from "./common.js";

const BASE = baseUrl();
const CHANNELS = integer("CHANNELS", 10);
const MEMBERS = integer("MEMBERS", 5);
const SUBSCRIBERS = CHANNELS * MEMBERS;
const RATE = integer("RATE", 10);
const DURATION = number("DURATION", 10);
const CONNECT_TIME = number("CONNECT_TIME", 5);
const DRAIN = number("DRAIN", 3);
const CONNS_PER_VU = integer("CONNS_PER_VU", 50);
const PUBLISHERS = integer("PUBLISHERS", Math.max(1, Math.ceil(RATE / 50)));
const TOTAL_SECONDS = CONNECT_TIME + DURATION + DRAIN;

const connectTime = new Trend("ws_chat_connect", true);
const subscribed = new Counter("ws_chat_subscribed");
const connectFailures = new Counter("ws_chat_connect_failures");
const sent = new Counter("ws_chat_sent");
const stored = new Counter("ws_chat_stored");
const refused = new Counter("ws_chat_refused");
const delivered = new Counter("ws_chat_delivered");
const latency = new Trend("ws_chat_latency", true);

export const options = {
  scenarios: {
    subscribe: {
      executor: "per-vu-iterations",
      exec: "subscribe",
      vus: Math.ceil(SUBSCRIBERS / CONNS_PER_VU),
      iterations: 1,
      maxDuration: `${TOTAL_SECONDS + 30}s`,
    },
    send: {
      executor: "constant-arrival-rate",
      exec: "send",
      rate: RATE,
      timeUnit: "1s",
      duration: `${DURATION}s`,
      preAllocatedVUs: PUBLISHERS,
      maxVUs: PUBLISHERS * 4,
      startTime: `${CONNECT_TIME}s`,
    },
  },
  setupTimeout: "300s",
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

/** The user id (`sub`) of an access token. */
function userOf(token) {
  return JSON.parse(encoding.b64decode(token.split(".")[1], "rawurl", "s")).sub;
}

export function setup() {
  const run = runTag();
  const tokens = userTokens(BASE, run);
  const users = tokens.map(userOf);
  const chats = [];
  for (let c = 0; c < CHANNELS; c++) {
    const indices = [...new Set(Array.from({ length: MEMBERS }, (_, k) => (c + k * CHANNELS) % tokens.length))];
    if (indices.length < MEMBERS) {
      throw new Error(`${tokens.length} users cannot give ${CHANNELS} chats ${MEMBERS} distinct members: use a prime USERS`);
    }
    const made = http.post(
      `${BASE}/v1/social/groups`,
      JSON.stringify({ user_ids: indices.slice(1).map((i) => users[i]) }),
      { headers: { "content-type": "application/json", authorization: `Bearer ${tokens[indices[0]]}` } },
    );
    if (made.status !== 201) throw new Error(`making a group chat answered ${made.status}: ${made.body}`);
    chats.push({ id: made.json("id"), sender: tokens[indices[0]] });
  }
  return { run, tokens, chats, start: Date.now() };
}

/** The send time (ms) of this run's message in a frame, or null. */
function stampOf(text, run) {
  try {
    const frame = JSON.parse(text);
    if (frame.type !== "event" || frame.event !== "chat.message") return null;
    const lt = JSON.parse(frame.data.body).lt;
    return Array.isArray(lt) && lt[0] === run ? lt[1] : null;
  } catch (_) {
    return null;
  }
}

export function subscribe(data) {
  const first = exec.scenario.iterationInTest * CONNS_PER_VU;
  const last = Math.min(first + CONNS_PER_VU, SUBSCRIBERS);
  const endAt = data.start + TOTAL_SECONDS * 1000;
  for (let i = first; i < last; i++) {
    setTimeout(() => open(i, data, endAt), (i - first) * 2);
  }
}

function open(i, data, endAt) {
  const channel = `chat:${data.chats[i % CHANNELS].id}`;
  const started = Date.now();
  let ready = false;
  const ws = new WebSocket(wsUrl(BASE, channel, false), protocols(data.tokens[i % data.tokens.length]));
  ws.onmessage = (event) => {
    const text = String(event.data);
    const at = stampOf(text, data.run);
    if (at !== null) {
      delivered.add(1);
      latency.add(Date.now() - at);
      return;
    }
    if (ready) return;
    const frame = JSON.parse(text);
    if (frame.type === "welcome") {
      ws.send(JSON.stringify({ type: "subscribe", id: 1, channel }));
    } else if (frame.type === "ack" && frame.id === 1) {
      ready = true;
      subscribed.add(1);
      connectTime.add(Date.now() - started);
    } else if (frame.type === "error") {
      connectFailures.add(1);
      console.warn(`subscriber ${i}: ${frame.code}: ${frame.message}`);
      ws.close();
    }
  };
  ws.onerror = (event) => {
    if (!ready) connectFailures.add(1);
    console.warn(`subscriber ${i}: ${event.error}`);
  };
  setTimeout(() => ws.close(), Math.max(0, endAt - Date.now()));
}

let warned = 0;

/** One `POST /v1/social/channels/{id}/messages` per iteration, as the chat's sender. */
export function send(data) {
  const chat = data.chats[exec.scenario.iterationInTest % CHANNELS];
  const body = JSON.stringify({ body: JSON.stringify({ lt: [data.run, Date.now()] }) });
  sent.add(1);
  const response = http.post(`${BASE}/v1/social/channels/${chat.id}/messages`, body, {
    headers: { "content-type": "application/json", authorization: `Bearer ${chat.sender}` },
    tags: { name: "chat.send" },
  });
  if (response.status === 201) {
    stored.add(1);
  } else {
    refused.add(1, { status: String(response.status) });
    if (warned++ < 3) console.warn(`send refused: ${response.status} ${response.body}`);
  }
}

export function handleSummary(data) {
  const ready = metric(data, "ws_chat_subscribed", "count", 0);
  const ok = metric(data, "ws_chat_stored", "count", 0);
  const got = metric(data, "ws_chat_delivered", "count", 0);
  // Every chat has MEMBERS subscribers and gets an equal share of the messages.
  const expected = Math.round((ok * ready) / CHANNELS);
  const ratio = expected > 0 ? got / expected : got === 0 ? 1 : Infinity;
  const lat = (stat) => metric(data, "ws_chat_latency", stat, undefined);
  const lines = [
    `k6 ws-chat at ${BASE}: ${CHANNELS} chats × ${MEMBERS} members, ${RATE} msg/s for ${DURATION} s`,
    `  connect    p99 ${ms(metric(data, "ws_chat_connect", "p(99)", undefined))}  (${ready} ready, ${metric(data, "ws_chat_connect_failures", "count", 0)} failed)`,
    `  sent       ${metric(data, "ws_chat_sent", "count", 0)}, stored ${ok}, refused ${metric(data, "ws_chat_refused", "count", 0)}`,
    `  delivered  ${got} of ${expected} expected: ratio ${ratio.toFixed(4)}`,
    `  latency    p50 ${ms(lat("med"))}  p95 ${ms(lat("p(95)"))}  p99 ${ms(lat("p(99)"))}  max ${ms(lat("max"))}`,
    "",
  ];
  const out = { stdout: lines.join("\n") };
  const file = env("SUMMARY_JSON", "");
  if (file) out[file] = JSON.stringify(data, null, 2);
  return out;
}
