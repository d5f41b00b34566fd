import { describe, expect, it } from "vitest";
import { mergeMessages } from "./messages";

describe("chat messages", () => {
  it("keeps each message once, the newest version, in id order beyond 2^53", () => {
    const a = { id: "139611232583749632", body: "a" };
    const b = { id: "139611232583749633", body: "b" };
    const bEdited = { id: "139611232583749633", body: "b!" };
    const c = { id: "9", body: "c" };
    expect(mergeMessages([b, a], [bEdited, c])).toEqual([c, a, bEdited]);
  });
});
