import { describe, expect, it } from "vitest";
import { figure, levelProgress, xpForLevel } from "./game";

describe("the game on Today", () => {
  it("follows gamification's level curve", () => {
    expect([1, 2, 3, 4].map(xpForLevel)).toEqual([0, 100, 300, 600]);
  });

  it("shows the progress within the current level", () => {
    // Level 2 runs from 100 to 300 XP: 150 XP is a quarter of the way.
    expect(levelProgress(150, 2, 300)).toEqual({ done: 50, needed: 150, fraction: 0.25 });
    expect(levelProgress(0, 1, 100)).toEqual({ done: 0, needed: 100, fraction: 0 });
  });

  it("names a recommendation's figures, rounding and turning a rise into a percentage", () => {
    expect(figure("acwr", 1.6049)).toEqual({ key: "today.figure.acwr", vars: { value: 1.6 } });
    expect(figure("increase", 0.4)).toEqual({ key: "today.figure.increase", vars: { value: 40 } });
    expect(figure("sets_upper_back", 3)).toEqual({ key: "today.figure.sets", vars: { group: "upper back", value: 3 } });
    expect(figure("new_thing", 2)).toEqual({ key: "today.figure.other", vars: { name: "new thing", value: 2 } });
  });
});
