#!/usr/bin/env node
// Browser tests: the built app (web/dist) served by a real `vigor serve`, in
// Debian's Chromium driven by playwright-core (never Playwright's own browser
// download), with axe-core on every main page. Screenshots at phone and desktop
// widths go to ../target/web-screenshots (CI artifacts, not committed).
//
//   npm run build && node e2e/run.mjs
//   node e2e/run.mjs leaderboards      only the tests whose name holds a word of the arguments
//
// Environment: VIGOR_BIN (default ../target/debug/vigor), CHROMIUM (default
// /usr/bin/chromium).
import { mkdtemp, mkdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import AxeBuilder from "@axe-core/playwright";
import { publishAs, registerPusher, setRoles, startVigor } from "../scripts/vigor.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.resolve(here, "..", "dist");
const shots = path.resolve(here, "..", "..", "target", "web-screenshots");
const PASSWORD = "a long passphrase 42";

const results = [];
const only = process.argv.slice(2);
async function test(name, body) {
  if (only.length > 0 && !only.some((word) => name.includes(word))) return;
  const started = Date.now();
  try {
    await body();
    results.push({ name, ok: true });
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    results.push({ name, ok: false });
    console.log(`FAIL ${name}\n     ${String(error?.stack ?? error).split("\n").join("\n     ")}`);
  }
}

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

/** No serious or critical axe violation on the page as it is now. */
async function accessible(page, label) {
  const { violations } = await new AxeBuilder({ page }).analyze();
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    serious.length === 0,
    `${label}: ${serious.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`).join("; ")}`,
  );
}

async function screenshot(page, name) {
  for (const [label, size] of [["phone", { width: 390, height: 844 }], ["desktop", { width: 1280, height: 800 }]]) {
    await page.setViewportSize(size);
    await page.screenshot({ path: path.join(shots, `${name}-${label}.png`), fullPage: true });
  }
}

/** Signs up in the app, then signs in through Vigor's login page (PKCE). */
async function signUpAndIn(page, url, email, name) {
  await page.goto(url);
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create an account" }).click();
  await page.getByText("Your account is ready").waitFor();
  await page.getByRole("button", { name: "Sign in" }).click();
  // Vigor's own authorization page.
  await page.waitForURL(/\/v1\/oauth\/authorize/);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation").waitFor();
}

const data = await mkdtemp(path.join(tmpdir(), "vigor-e2e-"));
await mkdir(shots, { recursive: true });
const pusher = await registerPusher(data);
const vigor = await startVigor({ dataDir: data, env: { VIGOR_HTTP_WEB_DIR: dist } });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

try {
  const context = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const email = `ann-${Date.now()}@example.org`;
  /** What one test leaves for the next. */
  const people = {};

  /** A password-grant token and the user id of `email` (the harness acts as a second device). */
  const tokenOf = async (who) => {
    const grant = await fetch(`${vigor.url}/v1/oauth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: "vigor-web", username: who, password: PASSWORD }),
    }).then((r) => r.json());
    const me = await fetch(`${vigor.url}/v1/users/me`, { headers: { authorization: `Bearer ${grant.access_token}` } }).then((r) => r.json());
    return { token: grant.access_token, id: me.id };
  };
  const asUser = (token, method, route, body) =>
    fetch(`${vigor.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  await test("the shell renders in under a second", async () => {
    await page.goto(vigor.url);
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    // Measured by the page itself, from the start of its navigation to the
    // shell's first paint with content.
    const elapsed = await page.evaluate(
      () => performance.getEntriesByName("first-contentful-paint")[0]?.startTime ?? Infinity,
    );
    console.log(`     first contentful paint of the shell: ${Math.round(elapsed)} ms`);
    expect(elapsed < 1000, `first render took ${elapsed} ms`);
    await accessible(page, "welcome");
  });

  await test("sign-up, then sign-in through the PKCE flow", async () => {
    await signUpAndIn(page, vigor.url, email, "Ann");
    await page.getByRole("heading", { name: "Hello, Ann" }).waitFor();
    await accessible(page, "today");
    await screenshot(page, "today");
  });

  await test("a reload stays signed in", async () => {
    await page.reload();
    await page.getByRole("heading", { name: "Hello, Ann" }).waitFor();
  });

  await test("log a strength workout set by set; it survives a reload", async () => {
    await page.goto(`${vigor.url}/training/log`);
    const select = page.getByLabel("Exercise");
    await page.waitForFunction(() => document.querySelectorAll("#log-exercise option").length > 1);
    const value = await select.locator("option").nth(1).getAttribute("value");
    await select.selectOption(value);
    await page.getByLabel("Weight (kg)").fill("100");
    await page.getByLabel("Reps").fill("5");
    await page.getByRole("button", { name: "Add set" }).click();
    await page.getByLabel("Weight (kg)").fill("105");
    await page.getByLabel("Reps").fill("3");
    await page.getByRole("button", { name: "Add set" }).click();
    await page.reload();
    await page.getByText("Your unfinished workout was restored.").waitFor();
    await page.getByText("Set 2: 105 kg × 3").waitFor();
    await accessible(page, "log");
    await screenshot(page, "log");
    await page.getByRole("button", { name: "Finish and save" }).click();
    await page.waitForURL(/\/workouts\/\d+/);
    await page.getByText("Set 1: 100 kg × 5").waitFor();
  });

  await test("import a GPX file and see its track and splits", async () => {
    await page.goto(`${vigor.url}/training`);
    await page.getByRole("button", { name: "Import GPX or FIT" }).setInputFiles(path.join(here, "fixtures", "run.gpx"));
    await page.waitForURL(/\/workouts\/\d+/);
    await page.getByTestId("track").waitFor();
    const d = await page.locator("[data-testid=track] path").getAttribute("d");
    expect(d && d.startsWith("M") && d.includes("L"), `the track is not drawn: ${d}`);
    const splits = await page.locator("[data-testid=splits] tbody tr").count();
    expect(splits >= 2, `only ${splits} splits`);
    await accessible(page, "workout");
    await screenshot(page, "workout");
    await page.goto(`${vigor.url}/training`);
    await page.getByRole("heading", { name: "Progress" }).waitFor();
    // Volume, distance and training load by week, the daily workload ratio.
    for (const caption of ["Weekly volume", "Weekly distance", "Weekly training load", "Acute:chronic workload ratio (0.8–1.3 shaded)"]) {
      await page.getByText(caption, { exact: true }).waitFor();
    }
    // The lift logged above: its estimated 1RM, workout by workout.
    await page.getByText(/: estimated 1RM and top set per workout \(epley\)$/).waitFor();
    await page.getByLabel("Exercise", { exact: true }).waitFor();
    const charts = await page.locator("figure .recharts-wrapper").count();
    expect(charts === 5, `${charts} charts drawn`);
    await accessible(page, "training");
    await screenshot(page, "training");
  });

  await test("build a plan, save it, and find it again", async () => {
    await page.goto(`${vigor.url}/training/plans/new`);
    await page.getByLabel("Plan name").fill("Strength A");
    await page.getByLabel("Name of day 1").fill("Lower");
    const add = page.getByLabel("Add an exercise to day 1");
    await page.waitForFunction(() => document.querySelectorAll("#add-0 option").length > 1);
    await add.selectOption(await add.locator("option").nth(1).getAttribute("value"));
    await page.getByLabel("Sets").fill("4");
    await page.getByLabel("Weight (kg)").fill("60");
    await page.getByLabel("Add kg when every set reaches the top").fill("2.5");
    await accessible(page, "plan editor");
    await screenshot(page, "plan");
    await page.getByRole("button", { name: "Save plan" }).click();
    await page.waitForURL(/\/training\/plans\/\d+/);
    await page.reload();
    await page.waitForFunction(() => document.querySelector("#d0x0-sets")?.value === "4");
    expect((await page.getByLabel("Weight (kg)").inputValue()) === "60", "the weight was not kept");
    expect((await page.getByLabel("Name of day 1").inputValue()) === "Lower", "the day was not kept");
    await page.goto(`${vigor.url}/training`);
    await page.getByRole("link", { name: "Strength A" }).waitFor();
  });

  await test("an achievement pushed on user:{id} appears live as a toast", async () => {
    await page.goto(vigor.url);
    await page.getByRole("heading", { name: "Hello, Ann" }).waitFor();
    // The user's id, as a backend knows it (the harness asks the API itself).
    const { id } = await tokenOf(email);
    expect(typeof id === "string", `no user id: ${id}`);
    people.annId = id;
    // The app is subscribed to user:{id} once its toasts region says it is live.
    await page.locator(".toasts[data-live=true]").waitFor({ state: "attached" });
    await publishAs(vigor.url, pusher, `user:${id}`, "achievement.unlocked", { name: "First workout" });
    await page.getByText("Achievement unlocked: First workout").waitFor({ timeout: 5000 });
  });

  await test("profile and settings", async () => {
    await page.goto(`${vigor.url}/profile`);
    await page.getByLabel("Time zone").waitFor();
    await page.getByLabel("Who sees my workouts").selectOption("private");
    await page.getByRole("button", { name: "Save" }).first().click();
    await page.getByText("Saved.").first().waitFor();
    await page.getByLabel("Maximum heart rate (bpm)").fill("185");
    await page.getByRole("button", { name: "Save" }).nth(1).click();
    await page.reload();
    await page.waitForFunction(() => document.querySelector("#hr-max")?.value === "185");
    expect((await page.getByLabel("Who sees my workouts").inputValue()) === "private", "privacy not kept");
    // The password changes (and the same one comes back, for the tests after).
    for (const [from, to] of [[PASSWORD, `${PASSWORD}!`], [`${PASSWORD}!`, PASSWORD]]) {
      await page.getByLabel("Current password").fill(from);
      await page.getByLabel("New password").fill(to);
      await page.getByRole("button", { name: "Change password" }).click();
      await page.getByText("Password changed.").waitFor();
      await page.reload();
      await page.getByLabel("Current password").waitFor();
    }
    await accessible(page, "profile");
    await screenshot(page, "profile");
    await page.goto(`${vigor.url}/communities`);
    await page.getByRole("heading", { name: "Communities", exact: true }).waitFor();
    await accessible(page, "communities");
  });

  await test("two people chat live in a community channel; a server restart loses no message", async () => {
    await page.goto(`${vigor.url}/communities`);
    await page.getByLabel("Community name").fill("Morning runners");
    await page.getByRole("button", { name: "Create a community" }).click();
    await page.waitForURL(/\/communities\/\d+/);
    const invite = await page.getByTestId("invite").getAttribute("href");
    expect(invite?.startsWith("/join/"), `no invite link: ${invite}`);
    // A post to the community is in the feed.
    await page.getByLabel("Your post").fill("Long run on Saturday at 7");
    await page.getByRole("button", { name: "Post to the community" }).click();
    await page.getByText("Posted: it is in the members' feeds.").waitFor();
    await page.goto(`${vigor.url}/feed`);
    await page.locator("[data-testid=feed] li[data-kind=post]").getByText("Long run on Saturday at 7").waitFor();
    await page.goBack();
    await page.getByTestId("invite").waitFor();
    await accessible(page, "chat");
    await screenshot(page, "chat");

    const bobEmail = `bob-${Date.now()}@example.org`;
    const bobContext = await browser.newContext({ locale: "en-US" });
    const bob = await bobContext.newPage();
    await signUpAndIn(bob, `${vigor.url}${invite}`, bobEmail, "Bob");
    await bob.getByRole("button", { name: "Join this community" }).click();
    await bob.waitForURL(/\/communities\/\d+/);

    const say = async (who, text) => {
      await who.getByLabel("Message").fill(text);
      await who.getByRole("button", { name: "Send" }).click();
    };
    const sees = (who, text) => who.getByTestId("messages").getByText(text).waitFor({ timeout: 10_000 });
    // Typing shows on the other side, once both are subscribed to the chat.
    await bob.locator("[data-testid=messages][data-live=true]").waitFor();
    await page.locator("[data-testid=messages][data-live=true]").waitFor();
    await page.getByLabel("Message").fill("H");
    await bob.getByTestId("typing").getByText("Someone is typing…").waitFor({ timeout: 10_000 });
    await say(page, "Hello from Ann");
    await sees(bob, "Hello from Ann");
    await say(bob, "Hi Ann, Bob here");
    await sees(page, "Hi Ann, Bob here");

    // The server restarts (same port and data); a message sent as soon as it
    // is back must reach Ann, live or by the resume's refetch.
    await vigor.restart();
    const bobAuth = await tokenOf(bobEmail);
    const channel = new URL(page.url()).pathname.split("/").pop();
    const sent = await asUser(bobAuth.token, "POST", `/v1/social/channels/${channel}/messages`, {
      body: "Sent while you were reconnecting",
    });
    expect(sent.status === 201, `sending answered ${sent.status}`);
    await page.getByTestId("messages").getByText("Sent while you were reconnecting").waitFor({ timeout: 45_000 });
    // And live again after the restart, both ways.
    await say(page, "Still here");
    await sees(bob, "Still here");

    // A direct message: Bob finds Ann by name and writes; Ann opens the pair's chat.
    await bob.goto(`${vigor.url}/communities`);
    await bob.getByLabel("Find people by name").fill("Ann");
    await bob.getByRole("button", { name: "Write to Ann" }).first().click();
    await bob.waitForURL(/\/communities\/\d+/);
    await bob.locator("[data-testid=messages][data-live=true]").waitFor();
    await say(bob, "Just between us");
    await page.goto(bob.url());
    await sees(page, "Just between us");

    // Scroll-back: more than a page of history, the oldest reached by "Older messages".
    const dm = new URL(bob.url()).pathname.split("/").pop();
    for (let i = 1; i <= 55; i += 1) {
      let posted;
      // The service allows 5 sends a second (burst 20): wait when told to.
      for (;;) {
        posted = await asUser(bobAuth.token, "POST", `/v1/social/channels/${dm}/messages`, {
          body: `History ${i}.`,
          client_msg_id: `history-${i}`,
        });
        if (posted.status !== 429) break;
        await new Promise((r) => setTimeout(r, 1000 * Number(posted.headers.get("retry-after") ?? 1)));
      }
      expect(posted.status === 201, `history message ${i} answered ${posted.status}`);
    }
    await page.reload();
    await sees(page, "History 55.");
    expect((await page.getByTestId("messages").getByText("History 1.", { exact: true }).count()) === 0, "the first page holds everything");
    await page.getByRole("button", { name: "Older messages" }).click();
    await sees(page, "History 1.");
    await accessible(bob, "direct message");
    people.bob = bob;
    people.bobContext = bobContext;
  });

  await test("a coach invites an athlete, who accepts; the coach sees the athlete's workouts", async () => {
    const { bob, bobContext } = people;
    expect(bob, "no second user (the chat test failed)");
    // An operator makes Ann a coach; her next token carries the role.
    await setRoles(data, people.annId, ["user", "coach"]);
    await page.evaluate(() => localStorage.removeItem("vigor.access"));
    await page.goto(`${vigor.url}/coaching`);
    await page.getByLabel("Find people by name").fill("Bob");
    await page.getByRole("button", { name: "Invite Bob" }).first().click();
    await page.getByText("Invitation sent.").waitFor();
    await bob.goto(`${vigor.url}/coaching`);
    await bob.getByRole("button", { name: "Accept Ann" }).click();
    await bob.getByRole("heading", { name: "My athletes" }).waitFor();
    await page.reload();
    await page.getByRole("link", { name: "Bob" }).click();
    await page.getByRole("heading", { name: "Workouts of Bob" }).waitFor();
    await page.getByText("No workout logged yet.").waitFor();
    await accessible(page, "coaching");
    await bobContext.close();
  });

  await test("the feed: a logged workout shows, takes kudos and a comment, and the counts move live", async () => {
    const danEmail = `dan-${Date.now()}@example.org`;
    const eveEmail = `eve-${Date.now()}@example.org`;
    const danContext = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 800 } });
    const eveContext = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 800 } });
    const dan = await danContext.newPage();
    const eve = await eveContext.newPage();
    await signUpAndIn(dan, vigor.url, danEmail, "Dan");
    await signUpAndIn(eve, vigor.url, eveEmail, "Eve");

    // Dan logs a strength workout in the app.
    await dan.goto(`${vigor.url}/training/log`);
    await dan.waitForFunction(() => document.querySelectorAll("#log-exercise option").length > 1);
    const exercise = dan.getByLabel("Exercise");
    await exercise.selectOption(await exercise.locator("option").nth(1).getAttribute("value"));
    await dan.getByLabel("Weight (kg)").fill("80");
    await dan.getByLabel("Reps").fill("8");
    await dan.getByRole("button", { name: "Add set" }).click();
    await dan.getByRole("button", { name: "Finish and save" }).click();
    await dan.waitForURL(/\/workouts\/\d+/);

    // Eve follows Dan (as another device would); Dan's workout is in both feeds.
    const danId = (await tokenOf(danEmail)).id;
    const eveAuth = await tokenOf(eveEmail);
    const followed = await asUser(eveAuth.token, "PUT", `/v1/social/following/${danId}`);
    expect(followed.ok, `following answered ${followed.status}`);
    // The feed item comes from training's event: open the feed until it is there.
    const feedShows = async (who, kind) => {
      for (let tries = 0; ; tries += 1) {
        await who.goto(`${vigor.url}/feed`);
        await who.locator("[data-testid=feed][data-loaded=true]").waitFor({ state: "attached" });
        const item = who.locator(`[data-testid=feed] li[data-kind=${kind}]`).first();
        if ((await item.count()) > 0 || tries >= 30) return item;
        await new Promise((r) => setTimeout(r, 500));
      }
    };
    const danWorkout = await feedShows(dan, "workout");
    await danWorkout.getByText("You: strength workout").waitFor();
    await dan.locator("[data-testid=feed][data-live=true]").waitFor({ state: "attached" });
    await danWorkout.getByText("Kudos: 0").waitFor();

    const eveWorkout = await feedShows(eve, "workout");
    await eveWorkout.getByText("Dan: strength workout").waitFor({ timeout: 15_000 });
    await eveWorkout.getByRole("button", { name: "Give kudos (0)" }).click();
    await eveWorkout.getByRole("button", { name: "Take kudos back (1)" }).waitFor();
    // Live on Dan's open feed: the count and the toast.
    await danWorkout.getByText("Kudos: 1").waitFor({ timeout: 10_000 });

    await eveWorkout.getByRole("button", { name: "Comments (0)" }).click();
    await eveWorkout.getByLabel("Your comment").fill("Strong session!");
    await eveWorkout.getByRole("button", { name: "Comment", exact: true }).click();
    await eveWorkout.getByTestId("comments").getByText("Strong session!").waitFor();
    await danWorkout.getByRole("button", { name: "Comments (1)" }).waitFor({ timeout: 10_000 });
    await danWorkout.getByRole("button", { name: "Comments (1)" }).click();
    await danWorkout.getByTestId("comments").getByText("Strong session!").waitFor();
    await accessible(eve, "feed");
    await screenshot(eve, "feed");

    // Eve deletes her comment and takes her kudos back.
    await eveWorkout.getByRole("button", { name: "Delete comment" }).click();
    await eveWorkout.getByRole("button", { name: "Comments (0)" }).waitFor();
    await eveWorkout.getByRole("button", { name: "Take kudos back (1)" }).click();
    await eveWorkout.getByRole("button", { name: "Give kudos (0)" }).waitFor();
    await eve.reload();
    await eve.locator("[data-testid=feed] li[data-kind=workout]").first().getByRole("button", { name: "Give kudos (0)" }).waitFor();
    people.dan = { page: dan, context: danContext, email: danEmail, id: danId };
    people.eve = { page: eve, context: eveContext, email: eveEmail, auth: eveAuth };
  });

  await test("leaderboards: yourself on the xp board, a row arriving live, the window and friends", async () => {
    const { dan, eve } = people;
    expect(dan && eve, "no Dan and Eve (the feed test failed)");
    await dan.page.goto(`${vigor.url}/leaderboards`);
    const board = dan.page.getByTestId("board");
    await board.getByRole("row", { name: /Dan \(You\)/ }).waitFor({ timeout: 15_000 });
    await dan.page.getByTestId("my-rank").getByText(/Your rank: \d+/).waitFor();
    await dan.page.locator("[data-testid=board][data-live=true]").waitFor();
    // Eve's first workout puts her on the weekly xp board: her row arrives live.
    const started = new Date(Date.now() - 3600_000).toISOString();
    const logged = await asUser(eve.auth.token, "POST", "/v1/training/workouts", {
      sport: "run",
      started_at: started,
      duration_s: 1800,
      distance_m: 5000,
    });
    expect(logged.status === 201, `logging Eve's run answered ${logged.status}`);
    await board.getByRole("row", { name: /Eve/ }).waitFor({ timeout: 20_000 });
    await accessible(dan.page, "leaderboards");
    await screenshot(dan.page, "leaderboards");
    // Another window and the distance board answer; friends shows Dan and whom he follows.
    await dan.page.getByLabel("Period").selectOption("all_time");
    await board.getByRole("row", { name: /Dan \(You\)/ }).waitFor();
    await dan.page.getByLabel("Friends").check();
    await board.getByRole("row", { name: /Dan \(You\)/ }).waitFor();
    // Friends are Dan and whom he follows: not Eve, who follows him.
    expect((await board.getByRole("row", { name: /Eve/ }).count()) === 0, "Eve is among Dan's friends");
    await dan.page.getByLabel("From the top").check();
    await dan.page.getByLabel("Board").selectOption("distance");
    await board.getByRole("row", { name: /Eve.*5\.0 km/ }).waitFor();
  });

  await test("today shows level, XP and streaks; a withdrawn achievement is a toast", async () => {
    const { dan } = people;
    expect(dan, "no Dan (the feed test failed)");
    await dan.page.goto(vigor.url);
    const game = dan.page.getByTestId("game");
    await game.getByText("Level", { exact: true }).waitFor();
    await game.getByText("Day streak").waitFor();
    expect((await game.locator("dd").nth(2).textContent()) === "1", "the day streak is not 1 after today's workout");
    await dan.page.getByText(/XP to level \d+/).waitFor();
    await dan.page.locator(".toasts[data-live=true]").waitFor({ state: "attached" });
    await publishAs(vigor.url, pusher, `user:${dan.id}`, "achievement.revoked", { name: "First workout" });
    await dan.page.getByText("Achievement withdrawn: First workout").waitFor({ timeout: 5000 });
    await accessible(dan.page, "today with the game");
  });

  await test("chat: reactions, edits and deletes reach the other side live; presence lists both", async () => {
    const { dan, eve } = people;
    expect(dan && eve, "no Dan and Eve (the feed test failed)");
    await eve.page.goto(`${vigor.url}/communities`);
    await eve.page.getByLabel("Find people by name").fill("Dan");
    await eve.page.getByRole("button", { name: "Write to Dan" }).first().click();
    await eve.page.waitForURL(/\/communities\/\d+/);
    await eve.page.locator("[data-testid=messages][data-live=true]").waitFor();
    await eve.page.getByLabel("Message", { exact: true }).fill("Run tomorrow?");
    await eve.page.getByRole("button", { name: "Send" }).click();
    await dan.page.goto(eve.page.url());
    await dan.page.locator("[data-testid=messages][data-live=true]").waitFor();
    const danMessage = dan.page.getByTestId("message").filter({ hasText: "Run tomorrow?" });
    await danMessage.waitFor();
    await dan.page.getByTestId("present").getByText(/Eve/).waitFor({ timeout: 10_000 });
    await eve.page.getByTestId("present").getByText(/Dan/).waitFor({ timeout: 10_000 });

    await danMessage.getByRole("button", { name: "React with 👍 (0)" }).click();
    const eveMessage = eve.page.getByTestId("message").filter({ hasText: "Run tomorrow?" });
    await eveMessage.getByRole("button", { name: "React with 👍 (1)" }).waitFor({ timeout: 10_000 });
    await danMessage.getByRole("button", { name: "React with 👍 (1)" }).click();
    await eveMessage.getByRole("button", { name: "React with 👍 (0)" }).waitFor({ timeout: 10_000 });

    await eveMessage.getByRole("button", { name: "Edit", exact: true }).click();
    await eve.page.getByLabel("Edit message").fill("Run tomorrow at 7?");
    await eve.page.getByRole("button", { name: "Save", exact: true }).click();
    await dan.page.getByTestId("message").filter({ hasText: "Run tomorrow at 7?" }).getByText("(edited)").waitFor({ timeout: 10_000 });
    await accessible(dan.page, "chat with reactions");
    await screenshot(dan.page, "chat-reactions");
    await eve.page.getByTestId("message").filter({ hasText: "Run tomorrow at 7?" }).getByRole("button", { name: "Delete", exact: true }).click();
    await dan.page.getByTestId("messages").getByText("Message deleted").waitFor({ timeout: 10_000 });
    expect((await dan.page.getByTestId("messages").getByText("Run tomorrow at 7?").count()) === 0, "the deleted text still shows");
    await dan.context.close();
    await eve.context.close();
  });

  await test("the shell works offline (service worker)", async () => {
    await page.goto(vigor.url);
    await page.evaluate(async () => {
      await navigator.serviceWorker.ready;
    });
    await page.reload();
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    await context.setOffline(true);
    try {
      await page.goto(`${vigor.url}/training`);
      await page.getByRole("navigation").waitFor();
      await page.getByText("You are offline").waitFor();
    } finally {
      await context.setOffline(false);
    }
  });

  await test("the Russian locale", async () => {
    await page.goto(vigor.url);
    await page.getByLabel("Language").selectOption("ru");
    await page.getByRole("link", { name: "Тренировки" }).waitFor();
    expect((await page.locator("html").getAttribute("lang")) === "ru", "html lang is not ru");
    await accessible(page, "today (ru)");
    await screenshot(page, "today-ru");
    await page.goto(`${vigor.url}/feed`);
    await page.getByRole("heading", { name: "Лента" }).waitFor();
    await page.locator("[data-testid=feed][data-loaded=true]").waitFor({ state: "attached" });
    await accessible(page, "feed (ru)");
    await screenshot(page, "feed-ru");
    await page.goto(`${vigor.url}/leaderboards`);
    await page.getByRole("heading", { name: "Рейтинги" }).waitFor();
    await page.getByLabel("Период").waitFor();
    await accessible(page, "leaderboards (ru)");
    await screenshot(page, "leaderboards-ru");
    await page.getByLabel("Язык").selectOption("en");
  });

  await test("sign-out revokes the refresh token", async () => {
    const refresh = await page.evaluate(() => localStorage.getItem("vigor.refresh"));
    await page.getByRole("button", { name: "Sign out" }).first().click();
    await page.getByRole("button", { name: "Sign in" }).waitFor();
    const answer = await fetch(`${vigor.url}/v1/oauth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "refresh_token", client_id: "vigor-web", refresh_token: refresh ?? "" }),
    });
    expect(answer.status === 400, `a revoked refresh token answered ${answer.status}`);
  });

  await test("delete my account, confirmed with the password", async () => {
    const carolContext = await browser.newContext({ locale: "en-US" });
    const carol = await carolContext.newPage();
    const carolEmail = `carol-${Date.now()}@example.org`;
    await signUpAndIn(carol, vigor.url, carolEmail, "Carol");
    await carol.goto(`${vigor.url}/profile`);
    await carol.getByLabel("Your password").fill(PASSWORD);
    await carol.getByRole("button", { name: "Delete my account" }).click();
    await carol.getByRole("button", { name: "Sign in" }).waitFor({ timeout: 10_000 }).catch(async (error) => {
      const alerts = await carol.getByRole("alert").allTextContents();
      throw new Error(`${error.message}; alerts: ${alerts.join(" | ")}`);
    });
    const grant = await fetch(`${vigor.url}/v1/oauth/token`, {
      method: "POST",
      body: new URLSearchParams({ grant_type: "password", client_id: "vigor-web", username: carolEmail, password: PASSWORD }),
    });
    expect(grant.status === 400, `the deleted account still signs in (${grant.status})`);
    await carolContext.close();
  });

  await context.close();
} finally {
  await browser.close();
  await vigor.stop();
  await rm(data, { recursive: true, force: true });
}

const failed = results.filter((r) => !r.ok);
console.log(`\n${results.length - failed.length} passed, ${failed.length} failed; screenshots in ${shots}`);
process.exit(failed.length ? 1 : 0);
