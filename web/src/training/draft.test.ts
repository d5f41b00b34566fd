import { describe, expect, it } from "vitest";
import { addSet, clearDraft, loadDraft, newDraft, removeSet, saveDraft, toWorkout } from "./draft";

class MemoryStorage implements Storage {
  private items = new Map<string, string>();
  get length() {
    return this.items.size;
  }
  clear() {
    this.items.clear();
  }
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  key(index: number) {
    return [...this.items.keys()][index] ?? null;
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
}

describe("the workout draft", () => {
  it("survives a reload set by set", () => {
    const storage = new MemoryStorage();
    let draft = newDraft(new Date("2026-12-05T18:00:00Z"), "k1");
    draft = addSet(draft, "11", "Squat", { weightKg: 100, reps: 5 });
    saveDraft(storage, draft);
    draft = addSet(draft, "11", "Squat", { weightKg: 105, reps: 3 });
    draft = addSet(draft, "12", "Bench press", { weightKg: 70, reps: 8 });
    saveDraft(storage, draft);
    // A reload: only storage is left.
    const restored = loadDraft(storage);
    expect(restored).toEqual(draft);
    expect(restored?.exercises.map((e) => e.sets.length)).toEqual([2, 1]);
    clearDraft(storage);
    expect(loadDraft(storage)).toBeNull();
  });

  it("drops a damaged draft instead of half-reading it", () => {
    const storage = new MemoryStorage();
    storage.setItem("vigor.workout-draft", "{not json");
    expect(loadDraft(storage)).toBeNull();
    storage.setItem("vigor.workout-draft", JSON.stringify({ key: "k", startedAt: "x", exercises: [{ exerciseId: 1 }] }));
    expect(loadDraft(storage)).toBeNull();
  });

  it("removes a set, and an exercise with no set left", () => {
    let draft = addSet(newDraft(new Date(), "k"), "11", "Squat", { weightKg: 100, reps: 5 });
    draft = addSet(draft, "11", "Squat", { weightKg: 110, reps: 2 });
    draft = removeSet(draft, "11", 0);
    expect(draft.exercises[0]?.sets).toEqual([{ weightKg: 110, reps: 2 }]);
    expect(removeSet(draft, "11", 0).exercises).toEqual([]);
  });

  it("becomes the API's workout draft", () => {
    const draft = addSet(newDraft(new Date("2026-12-05T18:00:00Z"), "k"), "11", "Squat", { weightKg: 100, reps: 5 });
    expect(toWorkout(draft, new Date("2026-12-05T19:00:00Z"))).toEqual({
      sport: "strength",
      started_at: "2026-12-05T18:00:00.000Z",
      ended_at: "2026-12-05T19:00:00.000Z",
      exercises: [{ exercise_id: "11", sets: [{ weight_kg: 100, reps: 5, set_type: "working" }] }],
    });
  });
});
