import { describe, expect, it } from "vitest";
import { progressRows } from "./progress";

const point = (at: string, e1rm: number | null, top: number) => ({
  workout_id: "1",
  performed_at: at,
  best_e1rm_kg: e1rm,
  e1rm_weight_kg: null,
  e1rm_reps: null,
  top_weight_kg: top,
  volume_kg: 0,
  sets: 1,
});

describe("progressRows", () => {
  it("keeps the order, rounds to half kilograms and leaves a gap without an estimate", () => {
    const rows = progressRows([point("2024-05-06T07:00:00Z", 116.6667, 100), point("2024-05-08T07:00:00Z", null, 60.26)]);
    expect(rows).toEqual([
      { day: "2024-05-06", e1rm: 116.5, top: 100 },
      { day: "2024-05-08", e1rm: null, top: 60.5 },
    ]);
  });
});
