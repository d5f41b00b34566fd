/** Chat messages as the page keeps them. */

/** What the merge needs of a message. */
export interface Keyed {
  id: string;
}

/**
 * Messages oldest first, each once: a live event may repeat a fetched message
 * (or an edit replace it), and ids are 64-bit decimal strings, compared as such.
 */
export function mergeMessages<M extends Keyed>(current: M[], incoming: M[]): M[] {
  const byId = new Map(current.map((m) => [m.id, m]));
  for (const m of incoming) byId.set(m.id, m);
  return [...byId.values()].sort((a, b) => {
    const x = BigInt(a.id);
    const y = BigInt(b.id);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}
