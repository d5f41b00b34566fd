/**
 * Display names of users by id, for the lists that carry only ids (feed items,
 * comments, chat members, live leaderboard rows): asked of
 * `GET /v1/users/names` a hundred at a time and kept for the session, so a name
 * is fetched once however many rows show it.
 */
import { useEffect, useState } from "react";
import { api, unwrap } from "../api/client";

const known = new Map<string, string | null>();
const BATCH = 100;

/** Fetches the names of `ids` not known yet; an account without one is remembered as `null`. */
async function fetchNames(ids: string[]): Promise<void> {
  const missing = [...new Set(ids)].filter((id) => !known.has(id));
  for (let i = 0; i < missing.length; i += BATCH) {
    const batch = missing.slice(i, i + BATCH);
    const answer = unwrap(await api.GET("/v1/users/names", { params: { query: { ids: batch.join(",") } } }));
    for (const id of batch) known.set(id, null);
    for (const name of answer.items) known.set(name.id, name.display_name);
  }
}

/** A lookup of display names for `ids` (undefined while unknown or for an account without one). */
export function useNames(ids: readonly string[]): (id: string) => string | undefined {
  const [, setRound] = useState(0);
  const key = [...new Set(ids)].sort().join(",");
  useEffect(() => {
    if (!key) return;
    let current = true;
    fetchNames(key.split(","))
      .then(() => {
        if (current) setRound((r) => r + 1);
      })
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [key]);
  return (id) => known.get(id) ?? undefined;
}
