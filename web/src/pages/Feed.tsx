/**
 * The feed (`GET /v1/social/feed`): the caller's own items and those of the
 * people they follow and the communities they are in, newest first, a page at
 * a time (keyset `next_cursor`, "Load more"). Each item takes kudos (given and
 * taken back) and comments (listed, added, one's own deleted). The counts move
 * live from the pushes on `user:{id}` (`feed.kudos`, `feed.comment` on one's
 * own items); the rules of the list are in `feed/items.ts`.
 */
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { useTranslation } from "react-i18next";
import { api, unwrap, type components } from "../api/client";
import { useHub } from "../hub/context";
import { useChannel } from "../hub/useChannel";
import { useNames } from "../components/useNames";
import { ErrorLine, messageOf } from "../components/ErrorLine";
import { appendPage, applyCommentCount, applyKudosPush, applyOwnKudos } from "../feed/items";
import { mergeMessages } from "../social/messages";

type FeedItem = components["schemas"]["FeedItem"];
type Comment = components["schemas"]["Comment"];

const PAGE = 20;

/** A field of an item's `data`, as text. */
function field(item: FeedItem, name: string): string {
  const data = item.data as Record<string, unknown>;
  const value = data[name];
  return typeof value === "string" || typeof value === "number" ? String(value) : "";
}

/** What an item shows, in words. */
function ItemText({ item, owner }: { item: FeedItem; owner: string }) {
  const { t } = useTranslation();
  switch (item.kind) {
    case "workout": {
      const distance = Number(field(item, "distance_m"));
      const minutes = Math.round(Number(field(item, "duration_s")) / 60);
      const workout = field(item, "workout_id");
      const text = t("feed.workout", { name: owner, sport: field(item, "sport") });
      return (
        <p>
          {workout ? <Link to={`/workouts/${workout}`}>{text}</Link> : text}
          {distance > 0 && <span className="muted"> · {t("feed.km", { km: (distance / 1000).toFixed(1) })}</span>}
          {minutes > 0 && <span className="muted"> · {t("feed.minutes", { minutes })}</span>}
        </p>
      );
    }
    case "achievement":
      return <p>{t("feed.achievement", { name: owner, achievement: field(item, "name") || field(item, "achievement") })}</p>;
    case "level":
      return <p>{t("feed.level", { name: owner, level: field(item, "level") })}</p>;
    case "challenge":
      return <p>{t("feed.challenge", { name: owner, challenge: field(item, "name") })}</p>;
    case "post":
      return (
        <>
          <p className="muted">{t("feed.post", { name: owner })}</p>
          <p>{field(item, "body")}</p>
        </>
      );
  }
}

/** An item's comments: the list (oldest first), a new one, deleting one's own. */
function Comments({ item, incoming, onCount }: { item: FeedItem; incoming: Comment[]; onCount: (delta: 1 | -1) => void }) {
  const { t } = useTranslation();
  const hub = useHub();
  const [comments, setComments] = useState<Comment[]>([]);
  const [more, setMore] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [removed, setRemoved] = useState<Set<string>>(new Set());
  const name = useNames([...comments, ...incoming].map((c) => c.author_id));

  const fetchPage = useCallback(
    async (cursor: string | null) =>
      unwrap(
        await api.GET("/v1/social/feed/items/{id}/comments", {
          params: { path: { id: item.id }, query: { limit: PAGE, cursor: cursor ?? undefined } },
        }),
      ),
    [item.id],
  );

  function show(page: { items: Comment[]; next_cursor?: string | null }) {
    setComments((c) => mergeMessages(c, page.items));
    setMore(page.next_cursor ?? null);
  }

  useEffect(() => {
    let current = true;
    fetchPage(null)
      .then((page) => current && show(page))
      .catch((e: unknown) => current && setError(messageOf(e)));
    return () => {
      current = false;
    };
  }, [fetchPage]);

  async function older(cursor: string) {
    try {
      show(await fetchPage(cursor));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  // Comments pushed live while the list is open join those fetched.
  const shown = mergeMessages(comments, incoming).filter((c) => !removed.has(c.id));

  async function add(event: FormEvent) {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    setError(null);
    try {
      const comment = unwrap(await api.POST("/v1/social/feed/items/{id}/comments", { params: { path: { id: item.id } }, body: { body } }));
      setComments((c) => mergeMessages(c, [comment]));
      setText("");
      onCount(1);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function remove(comment: Comment) {
    setError(null);
    try {
      unwrap(
        await api.DELETE("/v1/social/feed/items/{id}/comments/{comment_id}", {
          params: { path: { id: item.id, comment_id: comment.id } },
        }),
      );
      setComments((c) => c.filter((x) => x.id !== comment.id));
      setRemoved((r) => new Set(r).add(comment.id));
      onCount(-1);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  const inputId = `comment-${item.id}`;
  return (
    <div className="comments">
      {more && (
        <button type="button" className="secondary" onClick={() => void older(more)}>
          {t("feed.moreComments")}
        </button>
      )}
      <ul className="plain" data-testid="comments">
        {shown.map((c) => (
          <li key={c.id}>
            <strong>{name(c.author_id) ?? t("feed.someone")}</strong> {c.body}{" "}
            {(c.author_id === hub.userId || item.owner_id === hub.userId) && (
              <button type="button" className="secondary small" onClick={() => void remove(c)}>
                {t("feed.deleteComment")}
              </button>
            )}
          </li>
        ))}
      </ul>
      <ErrorLine error={error} />
      <form className="row" onSubmit={(e) => void add(e)}>
        <div>
          <label htmlFor={inputId}>{t("feed.comment")}</label>
          <input id={inputId} value={text} onChange={(e) => setText(e.target.value)} maxLength={2000} autoComplete="off" />
        </div>
        <button type="submit">{t("feed.addComment")}</button>
      </form>
    </div>
  );
}

/** A page of the caller's feed. */
async function feedPage(cursor: string | null) {
  return unwrap(await api.GET("/v1/social/feed", { params: { query: { limit: PAGE, cursor: cursor ?? undefined } } }));
}

export default function Feed() {
  const { t } = useTranslation();
  const hub = useHub();
  const [items, setItems] = useState<FeedItem[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [open, setOpen] = useState<Record<string, boolean>>({});
  const [pushed, setPushed] = useState<Record<string, Comment[]>>({});
  const name = useNames(items.map((i) => i.owner_id));

  function show(page: { items: FeedItem[]; next_cursor?: string | null }, first: boolean) {
    setItems((current) => (first ? page.items : appendPage(current, page.items)));
    setCursor(page.next_cursor ?? null);
    setLoaded(true);
  }

  /** The first page again (after a resume that could not replay), or the next one. */
  async function load(after: string | null) {
    setError(null);
    try {
      show(await feedPage(after), after === null);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  // The first page once the hub knows who the caller is: their own items show
  // as theirs, without a kudos button (the service refuses kudos to oneself).
  useEffect(() => {
    let current = true;
    Promise.all([feedPage(null), hub.connect().catch(() => undefined)])
      .then(([page]) => current && show(page, true))
      .catch((e: unknown) => current && setError(messageOf(e)));
    return () => {
      current = false;
    };
  }, [hub]);

  const live = useChannel(
    "user",
    (event) => {
      if (event.event === "feed.kudos") {
        setItems((all) => applyKudosPush(all, event.data as { item_id: string; kudos_count: number }));
      } else if (event.event === "feed.comment") {
        const comment = event.data as Comment;
        setItems((all) => applyCommentCount(all, comment.item_id, 1));
        setPushed((p) => ({ ...p, [comment.item_id]: [...(p[comment.item_id] ?? []), comment] }));
      }
    },
    () => void load(null),
  );

  async function kudos(item: FeedItem) {
    setError(null);
    const give = !item.kudoed;
    try {
      if (give) {
        const answer = unwrap(await api.PUT("/v1/social/feed/items/{id}/kudos", { params: { path: { id: item.id } } }));
        setItems((all) => applyOwnKudos(all, item.id, true, answer));
      } else {
        unwrap(await api.DELETE("/v1/social/feed/items/{id}/kudos", { params: { path: { id: item.id } } }));
        setItems((all) => applyOwnKudos(all, item.id, false));
      }
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <>
      <h1>{t("feed.title")}</h1>
      <ErrorLine error={error} />
      {!loaded && !error && <p role="status">{t("app.loading")}</p>}
      {loaded && items.length === 0 && <p className="muted">{t("feed.empty")}</p>}
      <ol className="plain feed" data-testid="feed" data-live={live} data-loaded={loaded}>
        {items.map((item) => {
          const owner = item.owner_id === hub.userId ? t("feed.you") : (name(item.owner_id) ?? t("feed.someone"));
          return (
            <li key={item.id} className="card" data-kind={item.kind}>
              <article aria-label={t(`feed.kind.${item.kind}`)}>
                <ItemText item={item} owner={owner} />
                <p className="muted">
                  <time dateTime={item.occurred_at}>{new Date(item.occurred_at).toLocaleString()}</time>
                </p>
                <div className="row actions">
                  {item.owner_id === hub.userId ? (
                    <span className="muted" data-testid="kudos-count">
                      {t("feed.kudosCount", { n: item.kudos_count })}
                    </span>
                  ) : (
                    <button
                      type="button"
                      className={item.kudoed ? "" : "secondary"}
                      aria-pressed={item.kudoed}
                      onClick={() => void kudos(item)}
                      data-testid="kudos-count"
                    >
                      {t(item.kudoed ? "feed.takeKudos" : "feed.giveKudos", { n: item.kudos_count })}
                    </button>
                  )}
                  <button
                    type="button"
                    className="secondary"
                    aria-expanded={open[item.id] === true}
                    onClick={() => setOpen((o) => ({ ...o, [item.id]: !o[item.id] }))}
                  >
                    {t("feed.comments", { n: item.comment_count })}
                  </button>
                </div>
                {open[item.id] && (
                  <Comments
                    item={item}
                    incoming={pushed[item.id] ?? []}
                    onCount={(delta) => setItems((all) => applyCommentCount(all, item.id, delta))}
                  />
                )}
              </article>
            </li>
          );
        })}
      </ol>
      {cursor && (
        <p>
          <button type="button" className="secondary" onClick={() => void load(cursor)}>
            {t("feed.loadMore")}
          </button>
        </p>
      )}
    </>
  );
}
