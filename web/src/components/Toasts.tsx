/**
 * Live toasts from the user's own channel `user:{id}`: achievements (and their
 * withdrawal), level-ups, kudos and comments, shown for a few seconds and
 * announced to screen readers. Pushes that only move numbers other pages show
 * (read markers, leaderboard ranks) make no toast.
 */
import { useState } from "react";
import { useTranslation } from "react-i18next";
import { useChannel } from "../hub/useChannel";
import { toastText } from "./toastText";

interface Toast {
  key: string;
  text: string;
}

/** Pushes on `user:{id}` that are not news of their own. */
const QUIET = new Set(["chat.read", "leaderboard.rank"]);

export function Toasts() {
  const { t } = useTranslation();
  const [toasts, setToasts] = useState<Toast[]>([]);
  const live = useChannel("user", (event) => {
    if (QUIET.has(event.event)) return;
    const toast = { key: `${event.seq ?? Date.now()}`, text: toastText(event, t) };
    setToasts((all) => [...all.slice(-3), toast]);
    setTimeout(() => setToasts((all) => all.filter((x) => x.key !== toast.key)), 8000);
  });

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
