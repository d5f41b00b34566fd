import { describe, expect, it } from "vitest";
import { appendPage, applyCommentCount, applyKudosPush, applyOwnKudos, type FeedEntry } from "./items";

const item = (id: string, kudos = 0, comments = 0, kudoed = false): FeedEntry => ({
  id,
  kudos_count: kudos,
  comment_count: comments,
  kudoed,
});

describe("the feed", () => {
  it("appends a page once per item, keeping the first place of an item shown before", () => {
    const shown = [item("9"), item("8")];
    const next = appendPage(shown, [item("8", 3), item("7")]);
    expect(next.map((i) => i.id)).toEqual(["9", "8", "7"]);
    expect(next[1]?.kudos_count).toBe(3);
  });

  it("takes the count of a feed.kudos push for its item only", () => {
    const next = applyKudosPush([item("1", 1), item("2", 5)], { item_id: "2", kudos_count: 6 });
    expect(next.map((i) => i.kudos_count)).toEqual([1, 6]);
  });

  it("gives and takes back the caller's kudos once, or takes the server's answer", () => {
    let items = [item("1", 2)];
    items = applyOwnKudos(items, "1", true);
    expect(items[0]).toMatchObject({ kudoed: true, kudos_count: 3 });
    items = applyOwnKudos(items, "1", true);
    expect(items[0]?.kudos_count).toBe(3);
    items = applyOwnKudos(items, "1", false);
    expect(items[0]).toMatchObject({ kudoed: false, kudos_count: 2 });
    items = applyOwnKudos(items, "1", true, item("1", 10, 0, true));
    expect(items[0]).toMatchObject({ kudoed: true, kudos_count: 10 });
  });

  it("counts comments added and deleted, never below zero", () => {
    let items = [item("1")];
    items = applyCommentCount(items, "1", 1);
    expect(items[0]?.comment_count).toBe(1);
    items = applyCommentCount(applyCommentCount(items, "1", -1), "1", -1);
    expect(items[0]?.comment_count).toBe(0);
  });
});
