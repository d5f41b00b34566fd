"""Node loss behind the load balancer, driven against a running compose/local-cluster.

compose/tests/node-loss-test starts the cluster and runs this with the cluster's env
file. Everything goes through HAProxy (LB_URL), as real clients would:

- WebSocket clients, two per user, each subscribed to its user's `user:` channel
  and to the `general` chat of a community every user joined;
- REST writers: per user, workouts (with an Idempotency-Key) and chat messages
  (with a client_msg_id), and a server publisher pushing events to every `user:`
  channel through `POST /v1/hub/publish` (with an Idempotency-Key) — each retrying
  the same write until it is acknowledged, as a client must when a node dies
  under it.

Meanwhile one gateway (one holding sessions) is stopped with SIGTERM (its
sessions must be closed with 1012), started again (SIGUSR1 to the cluster
script), then the other — which by then holds every session — is killed with
SIGKILL and started again. Every client reconnects through the balancer and
resubscribes with `since` = the last seq it saw. At the end:

- every channel each client saw is gap-free and duplicate-free (consecutive seqs),
  and every resume was `recovered`;
- every acknowledged publish and chat message reached every subscriber exactly once;
- every acknowledged workout and chat message is stored once (read back through the
  balancer).

It prints `ok   <check>` / `FAIL <check>` lines; the caller counts them. The whole
run is bounded (--deadline seconds).
"""

import argparse
import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

USERS = 4
CLIENTS_PER_USER = 2


def read_env(path):
    env = {}
    for line in Path(path).read_text().splitlines():
        if "=" in line:
            name, value = line.split("=", 1)
            env[name] = value
    return env


class Http:
    """Blocking JSON-over-HTTP calls, run in threads so the event loop goes on."""

    def __init__(self, base):
        self.base = base

    def _call(self, method, path, body=None, token=None, headers=None, form=None):
        data = None
        all_headers = dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            all_headers["content-type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            all_headers["content-type"] = "application/json"
        if token:
            all_headers["authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers=all_headers
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                text = response.read().decode()
                if response.headers.get_content_type().endswith("json"):
                    return response.status, (json.loads(text) if text else None)
                return response.status, text
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text
        except (OSError, ValueError) as error:
            # Refused, reset or cut off mid-answer: no answer at all.
            return 0, str(error)

    async def call(self, *args, **kwargs):
        return await asyncio.to_thread(self._call, *args, **kwargs)

    async def until_acknowledged(self, stop_at, ok, *args, **kwargs):
        """Repeats the same request (same idempotency key) until it is answered
        with a status in `ok`; a 4xx other than 429 is a real refusal. Returns
        (status, body), or (None, last answer) when the deadline passes."""
        last = None
        while time.monotonic() < stop_at:
            status, body = await self.call(*args, **kwargs)
            if status in ok:
                return status, body
            if 400 <= status < 500 and status not in (408, 429):
                raise RuntimeError(f"{args[0]} {args[1]} refused: {status} {body}")
            last = (status, body)
            await asyncio.sleep(0.2)
        return None, last


class Client:
    """One WebSocket session that follows its channels across reconnects."""

    def __init__(self, name, ws_url, token, channels):
        self.name = name
        self.ws_url = ws_url
        self.token = token
        self.channels = channels
        self.last_seq = {}  # channel -> last seq seen
        self.seen = {channel: [] for channel in channels}  # channel -> [(seq, event, data)]
        self.problems = []
        self.close_codes = []
        self.connections = 0
        self.replayed = 0  # events resumes brought back
        self.stopping = False

    async def run(self):
        while not self.stopping:
            try:
                await self.session()
            except ConnectionClosed as closed:
                self.close_codes.append(closed.rcvd.code if closed.rcvd else 1006)
            except (OSError, InvalidHandshake, asyncio.TimeoutError):
                pass  # no node took the connection yet: try again
            if not self.stopping:
                await asyncio.sleep(0.2)

    async def session(self):
        async with connect(
            self.ws_url,
            subprotocols=["vigor.v1", f"bearer.{self.token}"],
            open_timeout=5,
            close_timeout=2,
        ) as ws:
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 5))
            if welcome.get("type") != "welcome":
                self.problems.append(f"first frame {welcome}")
                return
            self.connections += 1
            pending = {}
            for number, channel in enumerate(self.channels, start=1):
                frame = {"type": "subscribe", "id": number, "channel": channel}
                if channel in self.last_seq:
                    frame["since"] = self.last_seq[channel]
                pending[number] = channel
                await ws.send(json.dumps(frame))
            async for text in ws:
                frame = json.loads(text)
                kind = frame.get("type")
                if kind == "ack" and frame.get("id") in pending:
                    channel = pending.pop(frame["id"])
                    result = frame["result"]
                    if channel in self.last_seq:
                        if not result.get("recovered"):
                            self.problems.append(f"resume of {channel} not recovered: {result}")
                        self.replayed += int(result.get("replayed", 0))
                    else:
                        self.last_seq[channel] = int(result["seq"])
                elif kind == "error":
                    self.problems.append(f"error frame {frame}")
                elif kind == "event" and "seq" in frame:
                    self.on_event(frame)

    def on_event(self, frame):
        channel, seq = frame["channel"], int(frame["seq"])
        last = self.last_seq.get(channel)
        if last is not None and seq <= last:
            self.problems.append(f"{channel}: seq {seq} again (last {last})")
            return
        # A channel without events yet stands at 0; its first seq starts an epoch.
        if last and seq != last + 1:
            self.problems.append(f"{channel}: gap from {last} to {seq}")
        self.last_seq[channel] = seq
        self.seen[channel].append((seq, frame.get("event"), frame.get("data")))

    def seqs(self, channel):
        return [seq for seq, _, _ in self.seen[channel]]

    def chat_ids(self, channel):
        return [
            data.get("id")
            for _, event, data in self.seen[channel]
            if event == "chat.message" and isinstance(data, dict)
        ]


class Report:
    def __init__(self):
        self.failed = 0

    def check(self, name, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {name}", flush=True)
        if not ok:
            self.failed += 1
            if detail:
                for line in str(detail).splitlines()[:20]:
                    print(f"  {line}", flush=True)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--env-file", required=True)
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--deadline", type=float, default=150)
    args = parser.parse_args()
    env = read_env(args.env_file)
    started = time.monotonic()
    stop_at = started + args.deadline
    http = Http(env["LB_URL"])
    report = Report()
    tag = uuid.uuid4().hex[:8]

    # --- users, a community, the publisher ------------------------------------------
    users = []
    for n in range(USERS):
        email = f"node-loss-{tag}-{n}@example.org"
        password = "node loss passphrase"
        status, body = await http.call(
            "POST", "/v1/auth/signup",
            {"email": email, "password": password, "display_name": f"Runner {n}"},
        )
        assert status == 201, (status, body)
        status, body = await http.call(
            "POST", "/v1/oauth/token",
            form={"grant_type": "password", "client_id": "vigor-web",
                  "username": email, "password": password},
        )
        assert status == 200, (status, body)
        token = body["access_token"]
        status, me = await http.call("GET", "/v1/users/me", token=token)
        assert status == 200, (status, me)
        users.append({"token": token, "id": me["id"]})
    status, community = await http.call(
        "POST", "/v1/social/communities", {"name": f"Node loss {tag}", "visibility": "public"},
        token=users[0]["token"],
    )
    assert status == 201, (status, community)
    for user in users[1:]:
        status, body = await http.call(
            "POST", f"/v1/social/communities/{community['id']}/join", token=user["token"]
        )
        assert status == 200, (status, body)
    status, channels = await http.call(
        "GET", f"/v1/social/communities/{community['id']}/channels", token=users[0]["token"]
    )
    assert status == 200, (status, channels)
    general = channels["items"][0]["id"]
    chat = f"chat:{general}"
    status, body = await http.call(
        "POST", "/v1/oauth/token",
        form={"grant_type": "client_credentials", "client_id": args.client_id,
              "client_secret": args.client_secret, "scope": "hub.publish"},
    )
    assert status == 200, (status, body)
    publisher_token = body["access_token"]

    # --- clients and writers --------------------------------------------------------
    ws_url = env["LB_URL"].replace("http://", "ws://", 1) + "/v1/ws"
    clients = []
    for n, user in enumerate(users):
        for c in range(CLIENTS_PER_USER):
            clients.append(
                (n, Client(f"user{n}/{c}", ws_url, user["token"], [f"user:{user['id']}", chat]))
            )
    client_tasks = [asyncio.create_task(client.run()) for _, client in clients]

    # Every client subscribed before anything is written.
    while not all(len(c.last_seq) == 2 for _, c in clients):
        assert time.monotonic() < stop_at, "clients did not subscribe"
        await asyncio.sleep(0.1)

    writing = True
    workouts = {n: {"attempted": 0, "acked": set()} for n in range(USERS)}
    messages = {"attempted": 0, "acked": set()}
    published = {f"user:{u['id']}": set() for u in users}
    write_failures = []

    async def workout_writer(n):
        k = 0
        while writing:
            k += 1
            key = f"{tag}-w-{n}-{k}"
            workouts[n]["attempted"] += 1
            body = {"sport": "run", "started_at": f"2026-11-{1 + k % 28:02d}T07:{k % 60:02d}:00Z",
                    "duration_s": 1800 + k, "distance_m": 5000}
            status, answer = await http.until_acknowledged(
                stop_at, (200, 201), "POST", "/v1/training/workouts", body,
                token=users[n]["token"], headers={"Idempotency-Key": key},
            )
            if status is None:
                write_failures.append(f"workout {key}: {answer}")
                return
            workouts[n]["acked"].add(answer["id"])
            await asyncio.sleep(0.25)

    async def chat_writer(n):
        k = 0
        while writing:
            k += 1
            client_msg_id = f"{tag}-m-{n}-{k}"
            messages["attempted"] += 1
            status, answer = await http.until_acknowledged(
                stop_at, (200, 201), "POST", f"/v1/social/channels/{general}/messages",
                {"body": f"message {k} from {n}", "client_msg_id": client_msg_id},
                token=users[n]["token"],
            )
            if status is None:
                write_failures.append(f"message {client_msg_id}: {answer}")
                return
            messages["acked"].add(answer["id"])
            await asyncio.sleep(0.3)

    async def publisher():
        k = 0
        while writing:
            k += 1
            for channel in published:
                status, answer = await http.until_acknowledged(
                    stop_at, (202,), "POST", "/v1/hub/publish",
                    {"channel": channel, "event": "test.tick", "data": {"k": k}},
                    token=publisher_token, headers={"Idempotency-Key": f"{tag}-p-{k}"},
                )
                if status is None:
                    write_failures.append(f"publish {k} to {channel}: {answer}")
                    return
                published[channel].add(int(answer["seq"]))
            await asyncio.sleep(0.2)

    writers = [asyncio.create_task(workout_writer(n)) for n in range(USERS)]
    writers += [asyncio.create_task(chat_writer(n)) for n in range(USERS)]
    writers.append(asyncio.create_task(publisher()))

    # --- node loss ------------------------------------------------------------------
    def pid_of(name):
        return int(read_env(args.env_file)[name])

    def alive(pid):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
        return bool(stat) and stat.rsplit(")", 1)[1].split()[0] != "Z"

    async def wait_until(what, predicate, seconds):
        limit = min(stop_at, time.monotonic() + seconds)
        while not predicate():
            if time.monotonic() > limit:
                raise RuntimeError(f"timed out waiting until {what}")
            await asyncio.sleep(0.1)

    def lb_sees_up(server):
        status, body = Http(env["LB_OPS_URL"])._call("GET", "/stats;csv")
        if status != 200 or not isinstance(body, str):
            return False
        return any(line.startswith(f"gateways,{server},") and ",UP," in line
                   for line in body.splitlines())

    async def restart(name, server):
        old = pid_of(name)
        os.kill(int(env["CLUSTER_PID"]), signal.SIGUSR1)
        await wait_until(f"{server} runs again", lambda: pid_of(name) != old, 60)
        await wait_until(f"the balancer sends to {server} again",
                         lambda: lb_sees_up(server), 20)

    def open_sockets(url):
        status, text = Http(url)._call("GET", "/metrics")
        for line in text.splitlines() if status == 200 and isinstance(text, str) else []:
            if line.startswith("vigor_websockets_open"):
                return float(line.split()[-1])
        return 0

    await asyncio.sleep(2)
    # SIGTERM to a gateway that holds sessions (HAProxy spread them; this only
    # guards against a skewed spread), SIGKILL later to the other.
    gateways = [("GATEWAY_PID", "gateway-1", env["GATEWAY_URL"]),
                ("GATEWAY2_PID", "gateway-2", env["GATEWAY2_URL"])]
    if open_sockets(gateways[0][2]) == 0:
        gateways.reverse()
    (term_pid, term_name, _), (kill_pid, kill_name, _) = gateways
    closes_before = sum(len(c.close_codes) for _, c in clients)
    stopped = pid_of(term_pid)
    os.kill(stopped, signal.SIGTERM)
    await wait_until(f"{term_name} has stopped", lambda: not alive(stopped), 30)
    await asyncio.sleep(2)
    codes = [code for _, c in clients for code in c.close_codes]
    report.check(f"SIGTERM: {term_name}'s sessions are closed with 1012",
                 len(codes) > closes_before and set(codes) == {1012}, f"close codes {codes}")
    await restart(term_pid, term_name)

    closes_before = len([code for _, c in clients for code in c.close_codes])
    os.kill(pid_of(kill_pid), signal.SIGKILL)
    await asyncio.sleep(2)
    await restart(kill_pid, kill_name)
    await asyncio.sleep(2)
    killed = [code for _, c in clients for code in c.close_codes][closes_before:]
    report.check(f"SIGKILL: {kill_name}'s sessions were cut", len(killed) > 0,
                 "no client lost its connection")

    # --- settle and check -----------------------------------------------------------
    writing = False
    await asyncio.gather(*writers)
    report.check("every write was acknowledged through the balancer", not write_failures,
                 "\n".join(write_failures))

    def delivered():
        for n, client in clients:
            channel = f"user:{users[n]['id']}"
            if not published[channel] <= set(client.seqs(channel)):
                return False
            if not messages["acked"] <= set(client.chat_ids(chat)):
                return False
        return True

    try:
        await wait_until("every client has every acknowledged event", delivered, 20)
    except RuntimeError:
        pass
    for _, client in clients:
        client.stopping = True
    for task in client_tasks:
        task.cancel()
    await asyncio.gather(*client_tasks, return_exceptions=True)

    problems = [f"{c.name}: {p}" for _, c in clients for p in c.problems]
    report.check("every client's channels are gap-free and duplicate-free, every resume recovered",
                 not problems, "\n".join(problems))
    replayed = sum(c.replayed for _, c in clients)
    report.check(f"resuming with since brought back what clients missed ({replayed} events)",
                 replayed > 0, "no resume replayed anything: the outages were not exercised")
    moved = [c.name for _, c in clients if c.connections < 2]
    report.check("every client reconnected through the balancer", not moved,
                 f"connected once only: {moved}")
    def not_exactly_once(what, acknowledged, received):
        """What of `acknowledged` is missing from `received` or in it twice, said."""
        lost = acknowledged - set(received)
        twice = {item for item in received if received.count(item) > 1}
        return [f"{what}: missing {sorted(lost)} twice {sorted(twice)}"] if lost or twice else []

    missing = []
    for n, client in clients:
        channel = f"user:{users[n]['id']}"
        missing += not_exactly_once(f"{client.name} {channel}", published[channel],
                                    client.seqs(channel))
    report.check(f"every acknowledged publish ({sum(map(len, published.values()))}) reached "
                 "its user's clients exactly once", not missing, "\n".join(missing))
    missing = []
    for _, client in clients:
        missing += not_exactly_once(client.name, messages["acked"], client.chat_ids(chat))
    report.check(f"every acknowledged chat message ({len(messages['acked'])}) reached every "
                 "member's clients exactly once", not missing, "\n".join(missing))

    # Stored: read back through the balancer.
    async def every_id(path, token):
        """The ids of every item of a list, page after page."""
        ids, cursor = [], None
        while True:
            query = "?limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
            status, page = await http.call("GET", path + query, token=token)
            assert status == 200, (status, page)
            ids += [item["id"] for item in page["items"]]
            cursor = page.get("next_cursor")
            if not cursor:
                return ids

    lost = []
    for n, user in enumerate(users):
        ids = await every_id("/v1/training/workouts", user["token"])
        acked = workouts[n]["acked"]
        if not acked <= set(ids) or len(ids) != len(set(ids)) \
                or len(ids) > workouts[n]["attempted"]:
            lost.append(f"user {n}: acknowledged {len(acked)}, attempted "
                        f"{workouts[n]['attempted']}, stored {len(ids)}, "
                        f"missing {sorted(acked - set(ids))}")
    report.check(f"every acknowledged workout ({sum(len(w['acked']) for w in workouts.values())}) "
                 "is stored once", not lost, "\n".join(lost))
    ids = await every_id(f"/v1/social/channels/{general}/messages", users[0]["token"])
    report.check("every acknowledged chat message is stored once",
                 messages["acked"] <= set(ids) and len(ids) == len(set(ids))
                 and len(ids) <= messages["attempted"],
                 f"acknowledged {len(messages['acked'])}, stored {len(ids)}, "
                 f"missing {sorted(messages['acked'] - set(ids))}")
    print(f"node-loss: {time.monotonic() - started:.1f}s", flush=True)
    return report.failed


if __name__ == "__main__":
    raise SystemExit(1 if asyncio.run(main()) else 0)
