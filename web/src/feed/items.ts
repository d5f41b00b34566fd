/**
 * The feed as the page keeps it: pages appended newest first, each item once,
 * and the counts that kudos, comments and their live pushes change. Pure
 * functions, so the rules are tested without a browser.
 */

/** What the feed logic needs of an item. */
export interface FeedEntry {
  id: string;
  kudos_count: number;
  comment_count: number;
  kudoed: boolean;
}

/**
 * The next page after the items shown: an item already shown (it moved between
 * requests) keeps its first place and takes the newer copy.
 */
export function appendPage<T extends FeedEntry>(current: T[], page: T[]): T[] {
  const fresh = new Map(page.map((item) => [item.id, item]));
  const kept = current.map((item) => fresh.get(item.id) ?? item);
  const shown = new Set(current.map((item) => item.id));
  return [...kept, ...page.filter((item) => !shown.has(item.id))];
}

/** The item `id` replaced by what `change` makes of it; the others as they are. */
function update<T extends FeedEntry>(items: T[], id: string, change: (item: T) => T): T[] {
  return items.map((item) => (item.id === id ? change(item) : item));
}

/** A `feed.kudos` push: the item's count as the server counted it. */
export function applyKudosPush<T extends FeedEntry>(items: T[], push: { item_id: string; kudos_count: number }): T[] {
  return update(items, push.item_id, (item) => ({ ...item, kudos_count: push.kudos_count }));
}

/** The caller gave (`given`) or took back kudos; `answer` is the item the server answered, if any. */
export function applyOwnKudos<T extends FeedEntry>(items: T[], id: string, given: boolean, answer?: T): T[] {
  return update(items, id, (item) => {
    if (answer) return { ...item, ...answer };
    if (item.kudoed === given) return item;
    return { ...item, kudoed: given, kudos_count: Math.max(0, item.kudos_count + (given ? 1 : -1)) };
  });
}

/** A comment added (`+1`) or deleted (`-1`) on item `id`. */
export function applyCommentCount<T extends FeedEntry>(items: T[], id: string, delta: 1 | -1): T[] {
  return update(items, id, (item) => ({ ...item, comment_count: Math.max(0, item.comment_count + delta) }));
}
