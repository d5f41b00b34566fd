// The naive baseline for vigor-loadtest: a plain Node `ws` broadcast server.
//
// Every message a client sends is sent, unchanged, to every receiving client of
// its room. That is all: no authentication, no envelope, no sequence numbers, no
// resume, no back-pressure policy — the least work a broadcast can do in Node,
// so that Vigor's figures can be stated as a ratio to it.
//
// Minimal framing, so the same scenarios can run against it:
// - a client joins a room with `/?room=NAME` (default: the one shared room, so
//   with no parameters every message goes to every client);
// - `send_only=1` keeps a connection out of the broadcast (publishers);
// - a message that starts with `NAME|` goes to room NAME instead of the sender's.
//
// Usage: node server.js [--port 9000] [--host 127.0.0.1]
// Prints `listening on HOST:PORT` once ready (`--port 0` picks a free port).

"use strict";

const { WebSocketServer } = require("ws");

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const host = option("host", "127.0.0.1");
const port = Number(option("port", "9000"));
const PIPE = 0x7c; // '|'
const MAX_ROOM = 128;

// room name -> Set of receiving sockets
const rooms = new Map();

function join(room, ws) {
  let members = rooms.get(room);
  if (!members) {
    members = new Set();
    rooms.set(room, members);
  }
  members.add(ws);
}

function leave(room, ws) {
  const members = rooms.get(room);
  if (members) {
    members.delete(ws);
    if (members.size === 0) rooms.delete(room);
  }
}

const wss = new WebSocketServer({ host, port, perMessageDeflate: false, clientTracking: false });

wss.on("connection", (ws, request) => {
  const query = new URL(request.url || "/", "http://localhost").searchParams;
  const room = query.get("room") || "";
  const receives = query.get("send_only") !== "1";
  if (receives) join(room, ws);

  ws.on("message", (data, isBinary) => {
    let target = room;
    const bar = data.indexOf(PIPE);
    if (bar > 0 && bar <= MAX_ROOM) target = data.toString("utf8", 0, bar);
    const members = rooms.get(target);
    if (!members) return;
    for (const member of members) {
      if (member.readyState === 1) member.send(data, { binary: isBinary });
    }
  });
  ws.on("close", () => {
    if (receives) leave(room, ws);
  });
  ws.on("error", () => {});
});

wss.on("listening", () => {
  const address = wss.address();
  console.log(`listening on ${address.address}:${address.port}`);
});

function stop() {
  wss.close();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
