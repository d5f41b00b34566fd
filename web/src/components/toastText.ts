import type { HubEvent } from "../hub/client";

/** The words of a push on `user:{id}`. */
export function toastText(event: HubEvent, t: (key: string, vars?: Record<string, unknown>) => string): string {
  const data = (typeof event.data === "object" && event.data !== null ? event.data : {}) as Record<string, unknown>;
  const text = (v: unknown) => (typeof v === "string" || typeof v === "number" ? String(v) : "");
  switch (event.event) {
    case "achievement.unlocked":
      return t("toast.achievement", { name: text(data.name ?? data.title ?? data.achievement) });
    case "achievement.revoked":
      return t("toast.achievementRevoked", { name: text(data.name ?? data.title ?? data.achievement) });
    case "level.up":
      return t("toast.levelUp", { level: text(data.level) });
    case "feed.kudos":
      return t("toast.kudos", { n: Number(data.kudos_count) || 0 });
    case "feed.comment":
      return t("toast.comment", { body: text(data.body) });
    default:
      return t("toast.event", { event: event.event });
  }
}
