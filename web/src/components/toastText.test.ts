import { describe, expect, it } from "vitest";
import { toastText } from "./toastText";

const t = (key: string, vars?: Record<string, unknown>) => `${key}:${JSON.stringify(vars ?? {})}`;

describe("toasts", () => {
  it("name the achievement, the level, or the event", () => {
    expect(toastText({ channel: "user:1", event: "achievement.unlocked", data: { name: "First workout" } }, t)).toBe(
      'toast.achievement:{"name":"First workout"}',
    );
    expect(toastText({ channel: "user:1", event: "level.up", data: { level: 3 } }, t)).toBe('toast.levelUp:{"level":"3"}');
    expect(toastText({ channel: "user:1", event: "streak.kept", data: null }, t)).toBe('toast.event:{"event":"streak.kept"}');
  });

  it("say an achievement was taken back, and what kudos and comments came", () => {
    expect(toastText({ channel: "user:1", event: "achievement.revoked", data: { achievement: "first_workout" } }, t)).toBe(
      'toast.achievementRevoked:{"name":"first_workout"}',
    );
    expect(toastText({ channel: "user:1", event: "feed.kudos", data: { item_id: "5", kudos_count: 2 } }, t)).toBe(
      'toast.kudos:{"n":2}',
    );
    expect(toastText({ channel: "user:1", event: "feed.comment", data: { body: "Nice" } }, t)).toBe('toast.comment:{"body":"Nice"}');
  });
});
