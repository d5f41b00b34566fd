/** The rows an e1RM chart draws from `GET /v1/training/exercises/{id}/progress`:
 * one per workout, oldest first, the estimate rounded to 0.5 kg (what a plate
 * can change) and `null` where no set gave one. */
import type { components } from "../api/client";

type Point = components["schemas"]["ProgressPoint"];

export interface ProgressRow {
  day: string;
  e1rm: number | null;
  top: number;
}

const halfKg = (kg: number) => Math.round(kg * 2) / 2;

export function progressRows(points: Point[]): ProgressRow[] {
  return points.map((p) => ({
    day: p.performed_at.slice(0, 10),
    e1rm: typeof p.best_e1rm_kg === "number" ? halfKg(p.best_e1rm_kg) : null,
    top: halfKg(p.top_weight_kg),
  }));
}
