import { describe, expect, it } from "vitest";
import { applyDeleted, applyPresence, applyReaction, mergeMessages, ownReactions } from "./messages";

const message = (id: string, body = "hi", reactions: Record<string, number> = {}) => ({ id, body, deleted: false, reactions });

describe("chat messages", () => {
  it("keeps each message once, the newest version, in id order beyond 2^53", () => {
    const a = { id: "139611232583749632", body: "a" };
    const b = { id: "139611232583749633", body: "b" };
    const bEdited = { id: "139611232583749633", body: "b!" };
    const c = { id: "9", body: "c" };
    expect(mergeMessages([b, a], [bEdited, c])).toEqual([c, a, bEdited]);
  });

  it("turns a deleted message into a tombstone in its place", () => {
    const next = applyDeleted([message("1"), message("2", "bye", { "👍": 2 })], "2");
    expect(next.map((m) => m.id)).toEqual(["1", "2"]);
    expect(next[1]).toEqual({ id: "2", body: "", deleted: true, reactions: {} });
    expect(next[0]?.deleted).toBe(false);
  });

  it("takes the reaction counts of a push, and keeps the caller's own reactions", () => {
    const next = applyReaction([message("1", "hi", { "👍": 1 })], { message_id: "1", reactions: { "👍": 2, "🔥": 1 } });
    expect(next[0]?.reactions).toEqual({ "👍": 2, "🔥": 1 });
    let mine = ownReactions(new Set(), "1", "👍", true);
    expect(mine.has("1:👍")).toBe(true);
    mine = ownReactions(mine, "1", "👍", false);
    expect(mine.size).toBe(0);
  });

  it("lists each present member once", () => {
    let members = applyPresence([], "presence.join", "7");
    members = applyPresence(members, "presence.join", "7");
    members = applyPresence(members, "presence.join", "8");
    expect(members).toEqual(["7", "8"]);
    expect(applyPresence(members, "presence.leave", "7")).toEqual(["8"]);
  });
});
