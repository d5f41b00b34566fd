import { describe, expect, it } from "vitest";
import { decodePolyline, formatDuration, formatPace, trackPath } from "./polyline";

describe("the stored route", () => {
  it("decodes Google's reference polyline", () => {
    expect(decodePolyline("_p~iF~ps|U_ulLnnqC_mqNvxq`@")).toEqual([
      [38.5, -120.2],
      [40.7, -120.95],
      [43.252, -126.453],
    ]);
  });

  it("stops at a truncated polyline instead of inventing a point", () => {
    expect(decodePolyline("_p~iF~ps|U_ulL")).toEqual([[38.5, -120.2]]);
    expect(decodePolyline("")).toEqual([]);
  });

  it("fits the track in the box, north up", () => {
    const d = trackPath([[0, 0], [0.01, 0], [0.01, 0.01]], 100, 100, 10);
    const coords = [...d.matchAll(/[ML]([\d.]+) ([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(coords).toHaveLength(3);
    for (const [x, y] of coords) {
      expect(x).toBeGreaterThanOrEqual(10);
      expect(x).toBeLessThanOrEqual(90);
      expect(y).toBeGreaterThanOrEqual(10);
      expect(y).toBeLessThanOrEqual(90);
    }
    // The second point is north of the first: higher on screen.
    expect(coords[1]?.[1]).toBeLessThan(coords[0]?.[1] ?? 0);
    // The third is east of the second: to the right.
    expect(coords[2]?.[0]).toBeGreaterThan(coords[1]?.[0] ?? 0);
  });

  it("formats paces and durations", () => {
    expect(formatPace(305)).toBe("5:05");
    expect(formatDuration(3725)).toBe("1:02:05");
    expect(formatDuration(65)).toBe("1:05");
  });
});
