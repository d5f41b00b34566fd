import { describe, expect, it } from "vitest";
import { challengeOf, randomToken } from "./pkce";

describe("PKCE", () => {
  it("computes the S256 challenge of RFC 7636's example", async () => {
    // RFC 7636, Appendix B.
    expect(await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe(
      "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    );
  });

  it("makes verifiers of 43 url-safe characters, each different", () => {
    const a = randomToken();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomToken()).not.toBe(a);
  });
});
