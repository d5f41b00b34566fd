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
});
