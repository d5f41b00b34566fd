// Starts a real `vigor serve` (all-in-one) for the SDK's tests, the API type
// generation and the browser tests: a throwaway data dir, a free loopback port
// (`--listen 127.0.0.1:0`; the bound address is read from the JSON log line
// "vigor is serving", like vigor/tests/support does), no stray VIGOR_* variables.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import readline from "node:readline";

const here = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(here, "..", "..");

/** The `vigor` binary: $VIGOR_BIN, else the debug build of this checkout. */
export function vigorBinary() {
  if (process.env.VIGOR_BIN) return process.env.VIGOR_BIN;
  const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repo, "target");
  const binary = path.join(targetDir, "debug", "vigor");
  if (!existsSync(binary)) {
    throw new Error(`no vigor binary at ${binary}: run \`cargo build -p vigor\` or set VIGOR_BIN`);
  }
  return binary;
}

/**
 * Starts `vigor serve`; resolves with its URL, a restart (same data dir and
 * port) and a stop. `env` adds VIGOR_* settings.
 */
export async function startVigor({ env = {}, dataDir } = {}) {
  const data = dataDir ?? (await mkdtemp(path.join(tmpdir(), "vigor-web-")));
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VIGOR_")));
  let child;
  let url;

  const launch = (listen) =>
    new Promise((resolve, reject) => {
      child = spawn(
        vigorBinary(),
        ["serve", "--listen", listen, "--log-format", "json", "--data-dir", data],
        { env: { ...clean, ...env }, stdio: ["ignore", "ignore", "pipe"] },
      );
      const seen = [];
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`vigor did not start in 60 s:\n${seen.join("\n")}`));
      }, 60_000);
      const lines = readline.createInterface({ input: child.stderr });
      lines.on("line", (line) => {
        if (seen.length < 200) seen.push(line);
        try {
          const json = JSON.parse(line);
          if (json.message === "vigor is serving") {
            clearTimeout(timer);
            resolve(`http://${json.address}`);
          }
        } catch {
          // Not JSON: keep it for the error message.
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`vigor exited with ${code}:\n${seen.join("\n")}`));
      });
    });

  const stopChild = () =>
    new Promise((resolve) => {
      // This process, not whichever a restart starts next.
      const stopping = child;
      if (!stopping || stopping.exitCode !== null) return resolve();
      const kill = setTimeout(() => stopping.kill("SIGKILL"), 10_000);
      stopping.once("exit", () => {
        clearTimeout(kill);
        resolve();
      });
      stopping.kill("SIGTERM");
    });

  url = await launch("127.0.0.1:0");
  return {
    get url() {
      return url;
    },
    /** Stops and starts again on the same port and data. */
    async restart() {
      await stopChild();
      const listen = new URL(url).host;
      url = await launch(listen);
    },
    async stop() {
      await stopChild();
      if (!dataDir) await rm(data, { recursive: true, force: true });
    },
  };
}

/**
 * Registers a confidential client allowed to push through `POST /v1/hub/publish`,
 * the way an operator does it (`vigor admin clients create`), in `dataDir`
 * before the server starts; answers its id and secret.
 */
export async function registerPusher(dataDir) {
  const { execFile } = await import("node:child_process");
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VIGOR_")));
  const stdout = await new Promise((resolve, reject) =>
    execFile(
      vigorBinary(),
      ["admin", "--data-dir", dataDir, "clients", "create", "pusher", "--name", "Pusher",
        "--confidential", "--grant", "client_credentials", "--scope", "hub.publish"],
      { env: clean },
      (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
    ),
  );
  const secret = stdout.split("\n").find((l) => l.startsWith("client_secret="))?.slice("client_secret=".length);
  if (!secret) throw new Error(`no client secret in:\n${stdout}`);
  return { id: "pusher", secret };
}

/** Signs up and answers the password grant's tokens (Node tests only; the app uses PKCE). */
export async function signUpWithTokens(url, email, password = "a long passphrase 42", displayName = "Tester") {
  const signup = await fetch(`${url}/v1/auth/signup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password, display_name: displayName }),
  });
  if (!signup.ok) throw new Error(`signup answered ${signup.status}: ${await signup.text()}`);
  const { id } = await signup.json();
  const token = await fetch(`${url}/v1/oauth/token`, {
    method: "POST",
    body: new URLSearchParams({ grant_type: "password", client_id: "vigor-web", username: email, password }),
  });
  if (!token.ok) throw new Error(`token answered ${token.status}: ${await token.text()}`);
  const tokens = await token.json();
  return { userId: String(id), accessToken: tokens.access_token, refreshToken: tokens.refresh_token, password };
}

/** Publishes `event` on `channel` as a backend would (client-credentials token of `pusher`). */
export async function publishAs(url, pusher, channel, event, data) {
  const grant = await fetch(`${url}/v1/oauth/token`, {
    method: "POST",
    headers: { authorization: `Basic ${Buffer.from(`${pusher.id}:${pusher.secret}`).toString("base64")}` },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "hub.publish" }),
  });
  if (!grant.ok) throw new Error(`client token answered ${grant.status}: ${await grant.text()}`);
  const { access_token } = await grant.json();
  const published = await fetch(`${url}/v1/hub/publish`, {
    method: "POST",
    headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" },
    body: JSON.stringify({ channel, event, data }),
  });
  if (published.status !== 202) throw new Error(`publish answered ${published.status}: ${await published.text()}`);
  return published.json();
}

/** Gives a user roles, the way an operator does it (`vigor admin users set-roles`). */
export async function setRoles(dataDir, userId, roles) {
  const { execFile } = await import("node:child_process");
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("VIGOR_")));
  await new Promise((resolve, reject) =>
    execFile(vigorBinary(), ["admin", "--data-dir", dataDir, "users", "set-roles", userId, ...roles], { env: clean }, (error, out, err) =>
      error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
    ),
  );
}
