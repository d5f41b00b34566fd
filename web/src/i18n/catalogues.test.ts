import { describe, expect, it } from "vitest";
import en from "./en";
import ru from "./ru";

/** Every leaf key of a catalogue, dotted. */
function keys(value: unknown, prefix = ""): string[] {
  if (typeof value !== "object" || value === null) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => keys(v, prefix ? `${prefix}.${k}` : k));
}

/** Every leaf string of a catalogue. */
function leaves(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value !== "object" || value === null) return [];
  return Object.values(value).flatMap(leaves);
}

describe("the catalogues", () => {
  it("have the same keys", () => {
    expect(keys(ru).sort()).toEqual(keys(en).sort());
  });

  it("have no empty string", () => {
    for (const s of [...leaves(en), ...leaves(ru)]) expect(s.trim()).not.toBe("");
  });

  it("use the same interpolations in both languages", () => {
    const vars = (s: string) => [...s.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]).sort();
    const enKeys = keys(en);
    const get = (c: unknown, k: string) =>
      k.split(".").reduce<unknown>((o, p) => (o as Record<string, unknown>)[p], c) as string;
    for (const k of enKeys) expect(vars(get(ru, k))).toEqual(vars(get(en, k)));
  });
});
