import { describe, expect, it } from "vitest";
import { applyUpdate, movements, rankIsFor, type BoardUpdate, type Row } from "./rows";

const rows: Row[] = [
  { rank: 1, user_id: "a", score: 300, display_name: "Ann" },
  { rank: 2, user_id: "b", score: 200, display_name: "Bob" },
  { rank: 3, user_id: "c", score: 100, display_name: "Cy" },
  { rank: 4, user_id: "d", score: 50, display_name: "Di" },
];

const update = (top: [string, number][], extra: Partial<BoardUpdate> = {}): BoardUpdate => ({
  board: "xp",
  window: "weekly",
  period: "2026-W49",
  top: top.map(([user_id, score], i) => ({ rank: i + 1, user_id, score })),
  ...extra,
});

describe("a live leaderboard update", () => {
  it("replaces the top with the push, keeping names, and moves a row up", () => {
    const next = applyUpdate(rows, update([["b", 400], ["a", 300], ["c", 100]]), "2026-W49");
    expect(next.map((r) => [r.rank, r.user_id, r.score, r.display_name])).toEqual([
      [1, "b", 400, "Bob"],
      [2, "a", 300, "Ann"],
      [3, "c", 100, "Cy"],
      [4, "d", 50, "Di"],
    ]);
  });

  it("takes a user below the top into it without a duplicate row", () => {
    const next = applyUpdate(rows, update([["a", 300], ["d", 250], ["b", 200]]), "2026-W49");
    expect(next.map((r) => r.user_id)).toEqual(["a", "d", "b"]);
  });

  it("drops the users who left, and starts afresh in a new period", () => {
    const left = applyUpdate(rows, update([["a", 300], ["b", 200], ["c", 100]], { left: ["d"] }), "2026-W49");
    expect(left.map((r) => r.user_id)).toEqual(["a", "b", "c"]);
    const fresh = applyUpdate(rows, update([["e", 10]], { period: "2026-W50" }), "2026-W49");
    expect(fresh).toEqual([{ rank: 1, user_id: "e", score: 10, display_name: undefined }]);
  });

  it("a new user in the top has no name yet", () => {
    const next = applyUpdate([], update([["z", 5]]), null);
    expect(next[0]?.display_name).toBeUndefined();
  });

  it("says who moved up and who down", () => {
    const moved = movements(
      update([], {
        moved: [
          { rank: 1, user_id: "b", score: 400, previous_rank: 2 },
          { rank: 2, user_id: "a", score: 300, previous_rank: 1 },
          { rank: 3, user_id: "n", score: 90, previous_rank: null },
        ],
      }),
    );
    expect([...moved]).toEqual([
      ["b", "up"],
      ["a", "down"],
      ["n", "up"],
    ]);
  });

  it("a rank push counts for its own global board and window only", () => {
    const push = { board: "xp", window: "weekly", scope: "global", rank: 3, previous_rank: 5, score: 120 };
    expect(rankIsFor(push, "xp", "weekly")).toBe(true);
    expect(rankIsFor(push, "xp", "daily")).toBe(false);
    expect(rankIsFor({ ...push, scope: "community:1" }, "xp", "weekly")).toBe(false);
  });
});
