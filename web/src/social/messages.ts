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

/** What the chat's live events change of a message. */
export interface ChatMessage extends Keyed {
  body: string;
  deleted: boolean;
  reactions: Record<string, number>;
}

/** A `chat.deleted` push (or one's own delete): the message becomes a tombstone in its place. */
export function applyDeleted<M extends ChatMessage>(messages: M[], messageId: string): M[] {
  return messages.map((m) => (m.id === messageId ? { ...m, deleted: true, body: "", reactions: {} } : m));
}

/** A `chat.reaction` push: the message's counts as the server counted them. */
export function applyReaction<M extends ChatMessage>(messages: M[], push: { message_id: string; reactions: Record<string, number> }): M[] {
  return messages.map((m) => (m.id === push.message_id ? { ...m, reactions: push.reactions } : m));
}

/** The caller's own reactions, as `message:emoji` keys, after one was added or removed. */
export function ownReactions(mine: ReadonlySet<string>, messageId: string, emoji: string, added: boolean): Set<string> {
  const next = new Set(mine);
  const key = `${messageId}:${emoji}`;
  if (added) next.add(key);
  else next.delete(key);
  return next;
}

/** Who is present after a `presence.join` / `presence.leave`, each once. */
export function applyPresence(members: readonly string[], event: string, userId: string): string[] {
  const rest = members.filter((m) => m !== userId);
  return event === "presence.join" ? [...rest, userId] : event === "presence.leave" ? rest : [...members];
}
