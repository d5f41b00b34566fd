import type { HubEvent } from "../hub/client";

/** The words of a push on `user:{id}`. */
export function toastText(event: HubEvent, t: (key: string, vars?: Record<string, unknown>) => string): string {
  const data = (typeof event.data === "object" && event.data !== null ? event.data : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : "");
  switch (event.event) {
    case "achievement.unlocked":
      return t("toast.achievement", { name: text(data.name ?? data.title ?? data.achievement) });
    case "level.up":
      return t("toast.levelUp", { level: text(data.level) });
    default:
      return t("toast.event", { event: event.event });
  }
}
