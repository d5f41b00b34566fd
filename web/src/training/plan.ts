/**
 * A training plan as the plan editor holds it: days of exercises, each with
 * one prescription (sets × a rep range at a weight) and a progression. The
 * API's plan is richer (several prescriptions per exercise, percentages,
 * supersets); the editor keeps what it does not show and writes it back, so
 * editing a plan made elsewhere loses nothing.
 */
import type { components } from "../api/client";

type Schemas = components["schemas"];
export type PlanContent = Schemas["PlanContent"];
type PlannedExercise = Schemas["PlannedExercise"];

export interface EditedExercise {
  exerciseId: string;
  sets: number;
  repsMin: number;
  repsMax: number;
  /** Absent: no load prescribed (body weight or as the day goes). */
  kg: number | null;
  /** Added each time every set reached the top of the range; 0: none. */
  incrementKg: number;
  /** The exercise as loaded, for what the editor does not show. */
  original?: PlannedExercise;
}

export interface EditedDay {
  name: string;
  exercises: EditedExercise[];
}

export interface EditedPlan {
  name: string;
  description: string;
  days: EditedDay[];
}

/** The editor's view of a stored plan. */
export function fromContent(content: PlanContent): EditedPlan {
  return {
    name: content.name,
    description: content.description ?? "",
    days: content.days.map((day) => ({
      name: day.name,
      exercises: day.exercises.map((e) => {
        const first = e.prescriptions[0];
        const load = first?.load;
        const progression = e.progression;
        return {
          exerciseId: e.exercise_id,
          sets: first?.sets ?? 3,
          repsMin: first?.reps.min ?? 8,
          repsMax: first?.reps.max ?? 12,
          kg: load && load.type === "absolute" ? load.kg : null,
          incrementKg: progression && progression.type === "double_progression" ? progression.increment_kg : 0,
          original: e,
        };
      }),
    })),
  };
}

/** The API's plan content of what the editor holds. */
export function toContent(plan: EditedPlan): PlanContent {
  return {
    name: plan.name,
    description: plan.description,
    days: plan.days.map((day) => ({
      name: day.name,
      exercises: day.exercises.map((e) => {
        const [first, ...rest] = e.original?.prescriptions ?? [];
        const prescription = {
          ...first,
          sets: e.sets,
          reps: { min: e.repsMin, max: Math.max(e.repsMin, e.repsMax) },
          load: e.kg === null ? (first?.load?.type === "absolute" ? null : (first?.load ?? null)) : { type: "absolute" as const, kg: e.kg },
        };
        const progression =
          e.incrementKg > 0
            ? { type: "double_progression" as const, increment_kg: e.incrementKg }
            : e.original?.progression?.type === "double_progression"
              ? { type: "none" as const }
              : (e.original?.progression ?? { type: "none" as const });
        return { ...e.original, exercise_id: e.exerciseId, prescriptions: [prescription, ...rest], progression };
      }),
    })),
  };
}
