/**
 * Subscribes a component to a hub channel for as long as it is shown: the
 * latest handler gets every event (no resubscribe when it changes), `onGap`
 * runs when a resume could not replay what was missed (refetch then), and the
 * answer says whether the subscription is live. `"user"` names the signed-in
 * user's own channel `user:{id}`, known once the hub has authenticated.
 */
import { useEffect, useRef, useState } from "react";
import type { HubEvent } from "./client";
import { useHub } from "./context";

export function useChannel(channel: string | null, handler: (event: HubEvent) => void, onGap?: () => void): boolean {
  const hub = useHub();
  const [live, setLive] = useState<string | null>(null);
  const latest = useRef({ handler, onGap });
  useEffect(() => {
    latest.current = { handler, onGap };
  });
  useEffect(() => {
    if (channel === null) return;
    let cancelled = false;
    let unsubscribe: (() => Promise<void>) | null = null;
    const start = async () => {
      await hub.connect();
      const name = channel === "user" ? (hub.userId ? `user:${hub.userId}` : null) : channel;
      if (cancelled || name === null) return;
      const sub = await hub.subscribe(name, (event) => latest.current.handler(event), {
        onGap: () => latest.current.onGap?.(),
      });
      if (cancelled) return void sub.unsubscribe();
      unsubscribe = sub.unsubscribe;
      setLive(channel);
    };
    start().catch(() => undefined);
    return () => {
      cancelled = true;
      void unsubscribe?.();
    };
  }, [channel, hub]);
  return live === channel && channel !== null;
}
