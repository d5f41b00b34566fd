/**
 * The numbers Today shows of the game: the progress within the current level
 * (the curve is gamification's, `50·L·(L−1)` XP for level L), and the figures
 * behind a recommendation in words (their names are the training service's).
 */

/** XP at which level `level` starts. */
export function xpForLevel(level: number): number {
  return 50 * level * (level - 1);
}

/** Progress from the start of `level` to the next: XP in, XP needed, fraction 0..1. */
export function levelProgress(xp: number, level: number, nextLevelXp: number): { done: number; needed: number; fraction: number } {
  const start = xpForLevel(level);
  const span = Math.max(1, nextLevelXp - start);
  const done = Math.min(span, Math.max(0, xp - start));
  return { done, needed: span - done, fraction: done / span };
}

/** How a recommendation's figure is named and shown: a catalogue key and its values. */
export function figure(name: string, value: number): { key: string; vars: Record<string, string | number> } {
  const rounded = Math.round(value * 100) / 100;
  const sets = /^sets_(.+)$/.exec(name);
  if (sets) return { key: "today.figure.sets", vars: { group: (sets[1] ?? "").replace(/_/g, " "), value: rounded } };
  if (name === "increase") return { key: "today.figure.increase", vars: { value: Math.round(value * 100) } };
  const known = ["acwr", "acute", "chronic", "this_week", "last_week", "last_weight_kg", "next_weight_kg", "exercises", "window_days"];
  if (known.includes(name)) return { key: `today.figure.${name}`, vars: { value: rounded } };
  return { key: "today.figure.other", vars: { name: name.replace(/_/g, " "), value: rounded } };
}
