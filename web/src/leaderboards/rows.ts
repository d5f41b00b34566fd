/**
 * A board's rows as the page keeps them, and what a live `leaderboard.update`
 * (`hub/PROTOCOL.md`) does to them: the push carries the whole top N of the
 * period now, so the rows of the top are replaced by it (a row keeps the
 * display name it had; the push carries none), rows below the top N are kept
 * where they were (the push says nothing of them) unless their user is in the
 * top now or dropped out (`left`), and a push of a new period starts the board
 * afresh.
 */

/** A row: rank, user, score; the name when known. */
export interface Row {
  rank: number;
  user_id: string;
  score: number;
  display_name?: string | null;
}

/** A `leaderboard.update` push. */
export interface BoardUpdate {
  board: string;
  window: string;
  period: string;
  top: { rank: number; user_id: string; score: number }[];
  moved?: { rank: number; user_id: string; score: number; previous_rank: number | null }[];
  left?: string[];
}

/** Rows after `update`; `period` is the period the rows are of (null: unknown yet). */
export function applyUpdate(rows: Row[], update: BoardUpdate, period: string | null): Row[] {
  const names = new Map(rows.map((r) => [r.user_id, r.display_name]));
  const top: Row[] = update.top.map((e) => ({ ...e, display_name: names.get(e.user_id) }));
  if (period !== null && period !== update.period) return top;
  const inTop = new Set(top.map((r) => r.user_id));
  const gone = new Set(update.left ?? []);
  const last = top.length;
  const below = rows.filter((r) => r.rank > last && !inTop.has(r.user_id) && !gone.has(r.user_id));
  return [...top, ...below].sort((a, b) => a.rank - b.rank);
}

/** Users whose rank went up (`up`) or down (`down`) in an update, by id. */
export function movements(update: BoardUpdate): Map<string, "up" | "down"> {
  const moved = new Map<string, "up" | "down">();
  for (const m of update.moved ?? []) {
    if (m.previous_rank === null || m.rank < m.previous_rank) moved.set(m.user_id, "up");
    else if (m.rank > m.previous_rank) moved.set(m.user_id, "down");
  }
  return moved;
}

/** A `leaderboard.rank` push on the user's own channel. */
export interface RankPush {
  board: string;
  window: string;
  scope: string;
  rank: number | null;
  previous_rank: number | null;
  score: number | null;
}

/** Whether a `leaderboard.rank` push is of the global board and window shown. */
export function rankIsFor(push: RankPush, board: string, window: string): boolean {
  return push.board === board && push.window === window && push.scope === "global";
}
