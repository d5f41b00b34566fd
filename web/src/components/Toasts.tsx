/**
 * Live toasts from the user's own channel `user:{id}`: achievements, level-ups
 * and any other push, shown for a few seconds and announced to screen readers.
 */
import { useEffect, useState } from "react";
import { useTranslation } from "react-i18next";
import { useHub } from "../hub/context";
import { toastText } from "./toastText";

interface Toast {
  key: string;
  text: string;
}

export function Toasts() {
  const { t } = useTranslation();
  const hub = useHub();
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [live, setLive] = useState(false);

  useEffect(() => {
    let unsubscribe: (() => Promise<void>) | null = null;
    let cancelled = false;
    const subscribe = async () => {
      await hub.connect();
      if (cancelled || !hub.userId) return;
      const sub = await hub.subscribe(`user:${hub.userId}`, (event) => {
        if (event.event === "chat.read") return;
        const toast = { key: `${event.seq ?? Date.now()}`, text: toastText(event, t) };
        setToasts((all) => [...all.slice(-3), toast]);
        setTimeout(() => setToasts((all) => all.filter((x) => x.key !== toast.key)), 8000);
      });
      if (cancelled) void sub.unsubscribe();
      else {
        unsubscribe = sub.unsubscribe;
        setLive(true);
      }
    };
    subscribe().catch(() => undefined);
    return () => {
      cancelled = true;
      void unsubscribe?.();
    };
  }, [hub, t]);

  return (
    <div className="toasts" role="status" aria-live="polite" data-live={live}>
      {toasts.map((toast) => (
        <div className="toast" key={toast.key}>
          <span>{toast.text}</span>
          <button type="button" className="secondary" onClick={() => setToasts((all) => all.filter((x) => x.key !== toast.key))}>
            {t("toast.dismiss")}
          </button>
        </div>
      ))}
    </div>
  );
}
