/**
 * Communities and chats: create a community (it starts with its `general`
 * channel), share its invite link (`/join/{id}`), every chat the user is in
 * with its unread count, and a chat with its history and live messages
 * (`chat:{id}` on the hub, resumed after a reconnect; when the server cannot
 * replay what was missed, the history is fetched again). Messages take
 * reactions (counts for everyone, the caller's own toggled); one's own are
 * edited and deleted (a deleted one stays as a tombstone); `chat.edited`,
 * `chat.deleted` and `chat.reaction` keep every open view the same. Who is in
 * the chat now comes from `presence:chat:{id}`.
 */
import { useEffect, useRef, useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useTranslation } from "react-i18next";
import { api, unwrap, type components } from "../api/client";
import { useHub } from "../hub/context";
import { useLoad } from "../components/useLoad";
import { Status } from "../components/Status";
import { applyDeleted, applyPresence, applyReaction, mergeMessages, ownReactions } from "../social/messages";
import { useChannel } from "../hub/useChannel";
import { useNames } from "../components/useNames";
import { useAction } from "../components/useAction";
import { PeopleSearch } from "../components/PeopleSearch";
import { ErrorLine, messageOf } from "../components/ErrorLine";

type Message = components["schemas"]["Message"];

/** The reactions offered on every message. */
const EMOJIS = ["👍", "❤️", "🔥", "💪"];

/** The first (`general`) channel of a community. */
export async function generalChannel(communityId: string): Promise<string | null> {
  const channels = unwrap(await api.GET("/v1/social/communities/{id}/channels", { params: { path: { id: communityId } } }));
  return channels.items[0]?.id ?? null;
}

function Chat({ channelId, communityId }: { channelId: string; communityId: string | null }) {
  const { t } = useTranslation();
  const hub = useHub();
  const [messages, setMessages] = useState<Message[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [text, setText] = useState("");
  const [typingUntil, setTypingUntil] = useState(0);
  const [live, setLive] = useState(false);
  const [more, setMore] = useState(false);
  const [mine, setMine] = useState<Set<string>>(new Set());
  const [editing, setEditing] = useState<{ id: string; body: string } | null>(null);
  const [present, setPresent] = useState<string[]>([]);
  const lastTyping = useRef(0);
  const list = useRef<HTMLOListElement>(null);
  const name = useNames([...messages.map((m) => m.author_id), ...present]);

  // Subscribing to the presence channel makes the caller present; the
  // `presence` frame answers who was there before.
  const presenceLive = useChannel(`presence:chat:${channelId}`, (event) => {
    const user = (event.data as { user_id?: string }).user_id;
    if (user) setPresent((p) => applyPresence(p, event.event, user));
  });
  useEffect(() => {
    if (!presenceLive) return;
    hub
      .presence(`chat:${channelId}`)
      .then((answer) => setPresent((p) => [...new Set([...answer.members, ...p])]))
      .catch(() => undefined);
  }, [presenceLive, hub, channelId]);

  useEffect(() => {
    let cancelled = false;
    let unsubscribe: (() => Promise<void>) | null = null;
    const fetchHistory = async () => {
      const page = unwrap(
        await api.GET("/v1/social/channels/{id}/messages", { params: { path: { id: channelId }, query: { limit: 50 } } }),
      );
      if (!cancelled) {
        setMessages((m) => mergeMessages(m, page.items));
        setMore((had) => had || page.next_cursor != null);
      }
    };
    const start = async () => {
      await hub.connect();
      // Subscribe first, then fetch: nothing sent in between is missed.
      const sub = await hub.subscribe(
        `chat:${channelId}`,
        (event) => {
          if (event.event === "chat.message" || event.event === "chat.edited") {
            setMessages((m) => mergeMessages(m, [event.data as Message]));
            setTypingUntil(0);
          } else if (event.event === "chat.deleted") {
            setMessages((m) => applyDeleted(m, (event.data as { message_id: string }).message_id));
          } else if (event.event === "chat.reaction") {
            const push = event.data as { message_id: string; user_id: string; emoji: string; added: boolean; reactions: Record<string, number> };
            setMessages((m) => applyReaction(m, push));
            if (push.user_id === hub.userId) setMine((mine) => ownReactions(mine, push.message_id, push.emoji, push.added));
          } else if (event.event === "typing" && (event.data as { user_id?: string }).user_id !== hub.userId) {
            setTypingUntil(Date.now() + 3000);
          }
        },
        { onGap: () => void fetchHistory().catch(() => undefined) },
      );
      if (cancelled) return void sub.unsubscribe();
      unsubscribe = sub.unsubscribe;
      setLive(true);
      await fetchHistory();
    };
    start().catch((e: unknown) => setError(messageOf(e)));
    return () => {
      cancelled = true;
      void unsubscribe?.();
    };
  }, [channelId, hub]);

  useEffect(() => {
    list.current?.lastElementChild?.scrollIntoView({ block: "end" });
  }, [messages]);

  // The typing note goes away by itself when no new typing event came.
  useEffect(() => {
    if (typingUntil === 0) return;
    const timer = setTimeout(() => setTypingUntil(0), Math.max(0, typingUntil - Date.now()));
    return () => clearTimeout(timer);
  }, [typingUntil]);

  function edit(value: string) {
    setText(value);
    // The hub keeps one typing event per second per channel; send at most every 2 s.
    const now = Date.now();
    if (value && now - lastTyping.current > 2000) {
      lastTyping.current = now;
      hub.typing(`chat:${channelId}`).catch(() => undefined);
    }
  }

  /** Scroll-back: the page before the oldest message shown. */
  async function older() {
    const oldest = messages[0];
    if (!oldest) return;
    try {
      const page = unwrap(
        await api.GET("/v1/social/channels/{id}/messages", {
          params: { path: { id: channelId }, query: { limit: 50, before: oldest.id } },
        }),
      );
      setMessages((m) => mergeMessages(m, page.items));
      setMore(page.next_cursor != null);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function react(message: Message, emoji: string) {
    const added = !mine.has(`${message.id}:${emoji}`);
    const path = { id: channelId, message_id: message.id, emoji };
    try {
      const answer = unwrap(
        added
          ? await api.PUT("/v1/social/channels/{id}/messages/{message_id}/reactions/{emoji}", { params: { path } })
          : await api.DELETE("/v1/social/channels/{id}/messages/{message_id}/reactions/{emoji}", { params: { path } }),
      );
      setMessages((m) => mergeMessages(m, [answer]));
      setMine((m) => ownReactions(m, message.id, emoji, added));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function saveEdit(event: FormEvent) {
    event.preventDefault();
    if (!editing) return;
    const body = editing.body.trim();
    if (!body) return;
    try {
      const edited = unwrap(
        await api.PATCH("/v1/social/channels/{id}/messages/{message_id}", {
          params: { path: { id: channelId, message_id: editing.id } },
          body: { body },
        }),
      );
      setMessages((m) => mergeMessages(m, [edited]));
      setEditing(null);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function remove(message: Message) {
    try {
      unwrap(
        await api.DELETE("/v1/social/channels/{id}/messages/{message_id}", {
          params: { path: { id: channelId, message_id: message.id } },
        }),
      );
      setMessages((m) => applyDeleted(m, message.id));
    } catch (e) {
      setError(messageOf(e));
    }
  }

  async function send(event: FormEvent) {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    try {
      const sent = unwrap(
        await api.POST("/v1/social/channels/{id}/messages", {
          params: { path: { id: channelId } },
          body: { body, client_msg_id: crypto.randomUUID() },
        }),
      );
      setMessages((m) => mergeMessages(m, [sent]));
      setText("");
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <section className="card" aria-labelledby="chat-title">
      <h2 id="chat-title">{t("social.chat")}</h2>
      {communityId && (
        <p>
          {t("social.invite")}: <a href={`/join/${communityId}`} data-testid="invite">{`${location.origin}/join/${communityId}`}</a>
        </p>
      )}
      <p className="muted" data-testid="present">
        {present.length > 0 &&
          t("social.present", { names: present.map((p) => (p === hub.userId ? t("feed.you") : (name(p) ?? t("feed.someone")))).join(", ") })}
      </p>
      {messages.length === 0 && <p className="muted">{t("social.noMessages")}</p>}
      {more && (
        <button type="button" className="secondary" onClick={() => void older()}>
          {t("social.older")}
        </button>
      )}
      <ol className="plain chat" ref={list} aria-live="polite" tabIndex={0} aria-labelledby="chat-title" data-testid="messages" data-live={live}>
        {messages.map((m) => (
          <li key={m.id} data-testid="message">
            <span className="muted">{new Date(m.created_at).toLocaleTimeString()}</span>{" "}
            <strong>{m.author_id === hub.userId ? t("feed.you") : (name(m.author_id) ?? t("feed.someone"))}</strong>{" "}
            {m.deleted ? (
              <em className="muted">{t("social.deleted")}</em>
            ) : editing?.id === m.id ? (
              <form className="row" onSubmit={(e) => void saveEdit(e)}>
                <div>
                  <label htmlFor={`edit-${m.id}`}>{t("social.editMessage")}</label>
                  <input id={`edit-${m.id}`} value={editing.body} onChange={(e) => setEditing({ id: m.id, body: e.target.value })} />
                </div>
                <button type="submit">{t("social.saveEdit")}</button>
                <button type="button" className="secondary" onClick={() => setEditing(null)}>
                  {t("social.cancelEdit")}
                </button>
              </form>
            ) : (
              <>
                <span>{m.body}</span>
                {m.edited_at && <span className="muted"> {t("social.edited")}</span>}
              </>
            )}
            {!m.deleted && editing?.id !== m.id && (
              <div className="reactions">
                {EMOJIS.map((emoji) => {
                  const count = m.reactions[emoji] ?? 0;
                  const pressed = mine.has(`${m.id}:${emoji}`);
                  return (
                    <button
                      key={emoji}
                      type="button"
                      className={`small ${pressed ? "" : "secondary"}`}
                      aria-pressed={pressed}
                      aria-label={t("social.react", { emoji, n: count })}
                      onClick={() => void react(m, emoji)}
                    >
                      {emoji}
                      {count > 0 ? ` ${count}` : ""}
                    </button>
                  );
                })}
                {m.author_id === hub.userId && (
                  <>
                    <button type="button" className="secondary small" onClick={() => setEditing({ id: m.id, body: m.body })}>
                      {t("social.edit")}
                    </button>
                    <button type="button" className="secondary small" onClick={() => void remove(m)}>
                      {t("social.delete")}
                    </button>
                  </>
                )}
              </div>
            )}
          </li>
        ))}
      </ol>
      <p className="muted" role="status" data-testid="typing">
        {typingUntil > 0 ? t("social.typing") : ""}
      </p>
      <ErrorLine error={error} />
      <form className="row" onSubmit={(e) => void send(e)}>
        <div>
          <label htmlFor="chat-text">{t("social.message")}</label>
          <input id="chat-text" value={text} onChange={(e) => edit(e.target.value)} autoComplete="off" />
        </div>
        <button type="submit">{t("social.send")}</button>
      </form>
    </section>
  );
}

/** A post to a community: it goes to the feed of its members. */
function CommunityPost({ communityId }: { communityId: string }) {
  const { t } = useTranslation();
  const { note, error, run } = useAction();
  const [text, setText] = useState("");

  function post(event: FormEvent) {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    void run(async () => {
      unwrap(await api.POST("/v1/social/communities/{id}/posts", { params: { path: { id: communityId } }, body: { body } }));
      setText("");
      return t("social.posted");
    });
  }

  return (
    <form className="card" onSubmit={post} aria-labelledby="post-title">
      <h2 id="post-title">{t("social.post")}</h2>
      <label htmlFor="post-text">{t("social.postText")}</label>
      <textarea id="post-text" value={text} onChange={(e) => setText(e.target.value)} maxLength={4000} rows={3} />
      {note && <p role="status">{note}</p>}
      <ErrorLine error={error} />
      <p>
        <button type="submit">{t("social.post")}</button>
      </p>
    </form>
  );
}

function CreateCommunity() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);

  async function create(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const name = String(new FormData(event.currentTarget).get("name")).trim();
    setError(null);
    try {
      const community = unwrap(await api.POST("/v1/social/communities", { body: { name, visibility: "public" } }));
      const general = await generalChannel(community.id);
      if (general) navigate(`/communities/${general}`);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <form className="card" onSubmit={(e) => void create(e)}>
      <h2>{t("social.create")}</h2>
      <label htmlFor="community-name">{t("social.name")}</label>
      <input id="community-name" name="name" required maxLength={80} />
      <ErrorLine error={error} />
      <p>
        <button type="submit">{t("social.create")}</button>
      </p>
    </form>
  );
}

/** Direct messages: find a person by name and open the pair's chat. */
function DirectMessage() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [error, setError] = useState<string | null>(null);

  async function open(userId: string) {
    setError(null);
    try {
      const channel = unwrap(await api.POST("/v1/social/dms", { body: { user_id: userId } }));
      navigate(`/communities/${channel.id}`);
    } catch (e) {
      setError(messageOf(e));
    }
  }

  return (
    <section className="card" aria-labelledby="dm-title">
      <h2 id="dm-title">{t("social.directMessage")}</h2>
      <PeopleSearch id="dm-q" action={(p) => ({ label: t("social.write", { name: p.display_name }), run: () => void open(p.id) })} />
      <ErrorLine error={error} />
    </section>
  );
}

export default function Communities() {
  const { t } = useTranslation();
  const { id } = useParams();
  const channels = useLoad(async () => unwrap(await api.GET("/v1/social/channels")), [id]);
  const open = channels.data?.items.find((c) => c.id === id);

  return (
    <>
      <h1>{t("social.title")}</h1>
      <div className="grid">
        <section className="card" aria-labelledby="my-chats">
          <h2 id="my-chats">{t("social.communities")}</h2>
          <Status loaded={channels} />
          {channels.data && channels.data.items.length === 0 && <p className="muted">{t("social.noCommunities")}</p>}
          <ul className="plain">
            {channels.data?.items.map((c) => (
              <li key={c.id}>
                <Link to={`/communities/${c.id}`}>{c.name ?? c.kind}</Link>
                {c.read.unread > 0 && <strong> ({c.read.unread})</strong>}
              </li>
            ))}
          </ul>
        </section>
        {id ? (
          <>
            <Chat key={id} channelId={id} communityId={open?.community_id ?? null} />
            {open?.community_id && <CommunityPost communityId={open.community_id} />}
          </>
        ) : (
          <>
            <CreateCommunity />
            <DirectMessage />
          </>
        )}
      </div>
    </>
  );
}
