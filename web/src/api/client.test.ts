import { describe, expect, it } from "vitest";
import { unwrap } from "./client";

describe("unwrap", () => {
  it("answers the data, and takes a 204 without a body as a success", () => {
    expect(unwrap({ data: { id: "1" }, response: new Response("{}", { status: 200 }) })).toEqual({ id: "1" });
    expect(unwrap({ data: undefined, response: new Response(null, { status: 204 }) })).toBeUndefined();
  });

  it("throws the problem's detail on an error", () => {
    expect(() =>
      unwrap({ error: { title: "Forbidden", detail: "not your comment" }, response: new Response(null, { status: 403 }) }),
    ).toThrow("not your comment");
  });
});
