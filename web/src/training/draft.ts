/**
 * A strength workout being logged, set by set, while training. Every change is
 * written to `localStorage` at once, so a reload, a crash or a locked phone
 * mid-workout loses nothing; the draft's key doubles as the `Idempotency-Key`
 * of the final save, so a save retried after a lost answer stores one workout.
 */

export interface LoggedSet {
  weightKg: number;
  reps: number;
}

export interface LoggedExercise {
  exerciseId: string;
  name: string;
  sets: LoggedSet[];
}

export interface Draft {
  key: string;
  startedAt: string;
  exercises: LoggedExercise[];
}

const STORAGE_KEY = "vigor.workout-draft";

/** A new, empty draft started now. */
export function newDraft(now = new Date(), key: string = crypto.randomUUID()): Draft {
  return { key, startedAt: now.toISOString(), exercises: [] };
}

function isDraft(value: unknown): value is Draft {
  if (typeof value !== "object" || value === null) return false;
  const d = value as Record<string, unknown>;
  return (
    typeof d.key === "string" &&
    typeof d.startedAt === "string" &&
    Array.isArray(d.exercises) &&
    d.exercises.every((e: unknown) => {
      const x = e as Record<string, unknown>;
      return (
        typeof x.exerciseId === "string" &&
        typeof x.name === "string" &&
        Array.isArray(x.sets) &&
        x.sets.every((s: unknown) => {
          const set = s as Record<string, unknown>;
          return typeof set.weightKg === "number" && typeof set.reps === "number";
        })
      );
    })
  );
}

/** The stored draft, if any (a damaged one is dropped, not half-read). */
export function loadDraft(storage: Storage): Draft | null {
  const raw = storage.getItem(STORAGE_KEY);
  if (!raw) return null;
  try {
    const parsed: unknown = JSON.parse(raw);
    return isDraft(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

export function saveDraft(storage: Storage, draft: Draft): void {
  storage.setItem(STORAGE_KEY, JSON.stringify(draft));
}

export function clearDraft(storage: Storage): void {
  storage.removeItem(STORAGE_KEY);
}

/** `draft` with one more set of `exercise` (appended to it, or a new exercise). */
export function addSet(draft: Draft, exerciseId: string, name: string, set: LoggedSet): Draft {
  const found = draft.exercises.some((e) => e.exerciseId === exerciseId);
  const exercises = found
    ? draft.exercises.map((e) => (e.exerciseId === exerciseId ? { ...e, sets: [...e.sets, set] } : e))
    : [...draft.exercises, { exerciseId, name, sets: [set] }];
  return { ...draft, exercises };
}

/** `draft` without set `index` of `exerciseId` (and without the exercise once empty). */
export function removeSet(draft: Draft, exerciseId: string, index: number): Draft {
  const exercises = draft.exercises
    .map((e) => (e.exerciseId === exerciseId ? { ...e, sets: e.sets.filter((_, i) => i !== index) } : e))
    .filter((e) => e.sets.length > 0);
  return { ...draft, exercises };
}

/** The body of `POST /v1/training/workouts` for a finished draft. */
export function toWorkout(draft: Draft, now = new Date()) {
  return {
    sport: "strength" as const,
    started_at: draft.startedAt,
    ended_at: now.toISOString(),
    exercises: draft.exercises.map((e) => ({
      exercise_id: e.exerciseId,
      sets: e.sets.map((s) => ({ weight_kg: s.weightKg, reps: s.reps, set_type: "working" as const })),
    })),
  };
}
