import { describe, expect, it } from "vitest";
import { fromContent, toContent, type PlanContent } from "./plan";

const stored: PlanContent = {
  name: "Strength A/B",
  description: "Twice a week",
  days: [
    {
      name: "A",
      exercises: [
        {
          exercise_id: "11",
          notes: "Pause at the bottom",
          superset: 1,
          prescriptions: [
            { sets: 5, reps: { min: 5, max: 5 }, load: { type: "absolute", kg: 100 }, rest_s: 180 },
            { sets: 1, reps: { min: 8, max: 10 }, load: { type: "percent_of_1rm", percent: 80 } },
          ],
          progression: { type: "linear", increment_kg: 2.5 },
        },
      ],
    },
  ],
};

describe("the plan editor's model", () => {
  it("round-trips a plan unchanged, keeping what the editor does not show", () => {
    expect(toContent(fromContent(stored))).toEqual(stored);
  });

  it("writes the edited numbers and a double progression", () => {
    const plan = fromContent(stored);
    const squat = plan.days[0]?.exercises[0];
    if (!squat) throw new Error("no exercise");
    Object.assign(squat, { sets: 3, repsMin: 6, repsMax: 8, kg: 90, incrementKg: 5 });
    const content = toContent(plan);
    const exercise = content.days[0]?.exercises[0];
    expect(exercise?.prescriptions[0]).toEqual({ sets: 3, reps: { min: 6, max: 8 }, load: { type: "absolute", kg: 90 }, rest_s: 180 });
    expect(exercise?.prescriptions[1]).toEqual(stored.days[0]?.exercises[0]?.prescriptions[1]);
    expect(exercise?.progression).toEqual({ type: "double_progression", increment_kg: 5 });
    expect(exercise?.notes).toBe("Pause at the bottom");
  });

  it("makes a new exercise with one prescription and no progression", () => {
    const content = toContent({
      name: "New",
      description: "",
      days: [{ name: "Day 1", exercises: [{ exerciseId: "12", sets: 3, repsMin: 8, repsMax: 12, kg: null, incrementKg: 0 }] }],
    });
    expect(content.days[0]?.exercises[0]).toEqual({
      exercise_id: "12",
      prescriptions: [{ sets: 3, reps: { min: 8, max: 12 }, load: null }],
      progression: { type: "none" },
    });
  });
});
