/**
 * A small typed client of Vigor's real-time protocol `vigor.v1`
 * (`hub/PROTOCOL.md`), usable on its own by any app: the web app, a mobile app,
 * a Node script (pass `WebSocket` from the `ws` package).
 *
 * - Authenticates with the first frame (`auth`), so the same frame renews the
 *   token before it expires, keeping the connection and its subscriptions.
 * - Every request carries an id; its `ack` resolves and its `error` rejects the
 *   promise (`HubError` with the protocol's code).
 * - Remembers the largest `seq` of every channel. After a drop it reconnects with
 *   exponential backoff and jitter and resubscribes each channel with `since`,
 *   so the server replays what was missed — no gap, no duplicate (events at or
 *   below the remembered seq are dropped should one arrive twice). When the
 *   server cannot replay (`recovered: false`) the subscriber is told, to refetch.
 * - Close 4003 (the session ended or the token is refused) stops reconnecting;
 *   the app signs in again.
 */

/** A WebSocket constructor: the browser's, or `ws`'s in Node. */
export type WebSocketLike = new (url: string, protocols?: string | string[]) => WebSocket;

/** An event pushed on a channel. */
export interface HubEvent<T = unknown> {
  channel: string;
  /** Absent on ephemeral events (typing, presence). */
  seq?: number;
  event: string;
  data: T;
}

/** The `ack` of `subscribe`. */
export interface Subscribed {
  channel: string;
  seq: number;
  recovered?: boolean;
  replayed?: number;
}

/** The `ack` of `presence`: the members present (at most 1000) and how many in all. */
export interface Presence {
  channel: string;
  members: string[];
  total: number;
}

/** The `ack` of `auth`. */
export interface Authenticated {
  user_id: string;
  session_id: string;
  expires_at: number;
}

/** A request the server refused (`error` frame). */
export class HubError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "HubError";
  }
}

/** Where the connection stands. */
export type HubStatus = "connecting" | "open" | "reconnecting" | "closed";

export interface HubOptions {
  /** `ws://host/v1/ws` or `wss://…`. */
  url: string;
  /** A valid access token (called at every connect and renewal). */
  token: () => Promise<string | null>;
  WebSocket?: WebSocketLike;
  /** Renew the token this long before it expires (default 60 s). */
  renewBeforeMs?: number;
  /** First reconnect delay (default 500 ms), doubled up to `maxBackoffMs` (default 30 s). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a request may wait for its answer (default 15 s). */
  requestTimeoutMs?: number;
}

type Handler = (event: HubEvent) => void;

interface Channel {
  handlers: Set<Handler>;
  /** Called after a resume the server could not replay: refetch the state. */
  onGap: Set<() => void>;
  /** The largest seq seen. */
  seq: number | undefined;
}

interface Waiting {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const CLOSE_FORBIDDEN = 4003;

export class HubClient {
  private readonly options: Required<Omit<HubOptions, "WebSocket">> & { WebSocket: WebSocketLike };
  private socket: WebSocket | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, Waiting>();
  private readonly channels = new Map<string, Channel>();
  private readonly statusListeners = new Set<(status: HubStatus) => void>();
  private renewTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private attempt = 0;
  private stopped = false;
  private ready: Promise<void> | null = null;
  private currentStatus: HubStatus = "closed";
  /** The user of the session, once authenticated. */
  userId: string | null = null;

  constructor(options: HubOptions) {
    const ws = options.WebSocket ?? (globalThis.WebSocket as WebSocketLike | undefined);
    if (!ws) throw new Error("no WebSocket implementation: pass one in the options");
    this.options = {
      renewBeforeMs: 60_000,
      minBackoffMs: 500,
      maxBackoffMs: 30_000,
      requestTimeoutMs: 15_000,
      ...options,
      WebSocket: ws,
    };
  }

  get status(): HubStatus {
    return this.currentStatus;
  }

  /** Calls `listener` on every status change. */
  onStatus(listener: (status: HubStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  private setStatus(status: HubStatus): void {
    this.currentStatus = status;
    for (const listener of this.statusListeners) listener(status);
  }

  /** Connects and authenticates; resolves when the session is open. */
  connect(): Promise<void> {
    this.stopped = false;
    if (!this.ready) {
      // Connecting now replaces a reconnect that is waiting for its backoff.
      clearTimeout(this.reconnectTimer);
      this.ready = this.open();
    }
    return this.ready;
  }

  private open(): Promise<void> {
    this.setStatus(this.attempt === 0 ? "connecting" : "reconnecting");
    return new Promise<void>((resolve, reject) => {
      const socket = new this.options.WebSocket(this.options.url, "vigor.v1");
      this.socket = socket;
      let opened = false;
      socket.onopen = () => {
        void this.authenticate()
          .then(async () => {
            opened = true;
            this.attempt = 0;
            this.setStatus("open");
            await this.resubscribe();
            resolve();
          })
          .catch((error: unknown) => {
            reject(error instanceof Error ? error : new Error(String(error)));
            socket.close();
          });
      };
      socket.onmessage = (message: MessageEvent) => this.receive(String(message.data));
      socket.onclose = (close: CloseEvent) => {
        if (this.socket !== socket) return;
        this.socket = null;
        this.ready = null;
        clearTimeout(this.renewTimer);
        for (const [id, waiting] of this.waiting) {
          clearTimeout(waiting.timer);
          waiting.reject(new HubError("disconnected", `the connection closed (${close.code})`));
          this.waiting.delete(id);
        }
        if (!opened) reject(new HubError("disconnected", `the connection closed (${close.code})`));
        if (this.stopped || close.code === CLOSE_FORBIDDEN) {
          this.setStatus("closed");
          return;
        }
        this.scheduleReconnect();
      };
    });
  }

  private scheduleReconnect(): void {
    this.setStatus("reconnecting");
    const base = Math.min(this.options.maxBackoffMs, this.options.minBackoffMs * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base / 2 + Math.random() * (base / 2);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      if (this.stopped) return;
      this.ready = this.open();
      this.ready.catch(() => undefined);
    }, delay);
  }

  private async authenticate(): Promise<void> {
    const token = await this.options.token();
    if (!token) throw new HubError("unauthenticated", "no access token");
    const result = (await this.request({ type: "auth", token })) as Authenticated;
    this.userId = result.user_id;
    clearTimeout(this.renewTimer);
    const renewIn = result.expires_at * 1000 - Date.now() - this.options.renewBeforeMs;
    this.renewTimer = setTimeout(() => {
      this.authenticate().catch(() => {
        // The token could not be renewed: the server closes with 4009 at expiry
        // and the reconnect authenticates anew.
      });
    }, Math.max(1_000, renewIn));
  }

  private async resubscribe(): Promise<void> {
    await Promise.all(
      [...this.channels.keys()].map((name) => this.sendSubscribe(name).catch(() => undefined)),
    );
  }

  private async sendSubscribe(name: string): Promise<Subscribed> {
    const channel = this.channels.get(name);
    const frame: Record<string, unknown> = { type: "subscribe", channel: name };
    if (channel?.seq !== undefined) frame.since = channel.seq;
    const result = (await this.request(frame)) as Subscribed;
    if (channel) {
      if (channel.seq !== undefined && result.recovered === false) {
        for (const gap of channel.onGap) gap();
      }
      channel.seq = Math.max(channel.seq ?? 0, result.seq);
    }
    return result;
  }

  private receive(text: string): void {
    let frame: Record<string, unknown>;
    try {
      frame = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    const id = typeof frame.id === "number" ? frame.id : null;
    switch (frame.type) {
      case "ack":
      case "pong":
      case "error": {
        if (id === null) return;
        const waiting = this.waiting.get(id);
        if (!waiting) return;
        this.waiting.delete(id);
        clearTimeout(waiting.timer);
        if (frame.type === "error") {
          waiting.reject(new HubError(String(frame.code), String(frame.message ?? frame.code)));
        } else {
          waiting.resolve(frame.type === "ack" ? frame.result : null);
        }
        return;
      }
      case "event": {
        const event = frame as unknown as HubEvent;
        const channel = this.channels.get(event.channel);
        if (!channel) return;
        if (typeof event.seq === "number") {
          if (channel.seq !== undefined && event.seq <= channel.seq) return;
          channel.seq = event.seq;
        }
        for (const handler of channel.handlers) handler(event);
        return;
      }
      case "unsubscribed": {
        this.channels.delete(String(frame.channel));
        return;
      }
      default:
        return;
    }
  }

  /** Sends a client frame and resolves with its `ack`'s result. */
  request(frame: Record<string, unknown>): Promise<unknown> {
    const socket = this.socket;
    if (!socket || socket.readyState !== 1) {
      return Promise.reject(new HubError("disconnected", "not connected"));
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new HubError("timeout", `no answer to ${String(frame.type)} in time`));
      }, this.options.requestTimeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      socket.send(JSON.stringify({ ...frame, id }));
    });
  }

  /**
   * Subscribes `handler` to `channel` (from `since` when given); the
   * subscription is renewed, with resume, on every reconnect. Answers the
   * `ack` and a function that unsubscribes.
   */
  async subscribe(
    name: string,
    handler: Handler,
    options: { since?: number; onGap?: () => void } = {},
  ): Promise<{ subscribed: Subscribed; unsubscribe: () => Promise<void> }> {
    let channel = this.channels.get(name);
    const fresh = !channel;
    if (!channel) {
      channel = { handlers: new Set(), onGap: new Set(), seq: options.since };
      this.channels.set(name, channel);
    }
    channel.handlers.add(handler);
    if (options.onGap) channel.onGap.add(options.onGap);
    let subscribed: Subscribed;
    if (fresh) {
      try {
        subscribed = await this.sendSubscribe(name);
      } catch (error) {
        this.channels.delete(name);
        throw error;
      }
    } else {
      subscribed = { channel: name, seq: channel.seq ?? 0 };
    }
    const held = channel;
    const onGap = options.onGap;
    return {
      subscribed,
      unsubscribe: async () => {
        held.handlers.delete(handler);
        if (onGap) held.onGap.delete(onGap);
        if (held.handlers.size === 0 && this.channels.get(name) === held) {
          this.channels.delete(name);
          await this.request({ type: "unsubscribe", channel: name }).catch(() => undefined);
        }
      },
    };
  }

  /** The largest seq seen on `channel`. */
  lastSeq(channel: string): number | undefined {
    return this.channels.get(channel)?.seq;
  }

  /** Publishes an event where the channel's owner allows it. */
  publish(channel: string, event: string, data: Record<string, unknown>): Promise<unknown> {
    return this.request({ type: "publish", channel, event, data });
  }

  /** Says the user is typing in `channel`. */
  typing(channel: string): Promise<unknown> {
    return this.request({ type: "typing", channel });
  }

  /** Who is present in a chat or community (`presence` frame). */
  async presence(channel: string): Promise<Presence> {
    return (await this.request({ type: "presence", channel })) as Presence;
  }

  /** Sends a chat message through the social service. */
  chatSend(channelId: string, body: string, clientMsgId?: string): Promise<unknown> {
    return this.request({ type: "chat.send", channel_id: channelId, body, client_msg_id: clientMsgId });
  }

  /** Round trip to the server. */
  ping(): Promise<unknown> {
    return this.request({ type: "ping" });
  }

  /** Closes for good (no reconnect). */
  close(): void {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.reconnectTimer);
    this.socket?.close(1000);
    this.socket = null;
    this.ready = null;
    this.setStatus("closed");
  }
}
