import { describe, expect, it } from "vitest";
import type { Session } from "../src/auth";
import { atExpiry, expiryDelay } from "../src/auth";

function session(source: Session["source"], expiresAt: number | null): Session {
  return { token: source, claims: {}, roles: [], actions: new Set(), expiresAt, source };
}

describe("a sign-in reaching its expiry", () => {
  it("renews an Entra ID token silently", async () => {
    const renewed = session("entra", Date.now() + 3600e3);
    expect(await atExpiry(session("entra", Date.now()), async () => renewed)).toBe(renewed);
  });

  it("signs out when silent renewal fails or brings an expired token", async () => {
    expect(await atExpiry(session("entra", Date.now()), async () => null)).toBeNull();
    expect(await atExpiry(session("entra", Date.now()), () => Promise.reject(new Error("interaction_required")))).toBeNull();
    expect(await atExpiry(session("entra", Date.now()), async () => session("entra", Date.now() - 1))).toBeNull();
  });

  it("signs out a local token (nothing can renew it)", async () => {
    let asked = false;
    const renew = async () => {
      asked = true;
      return session("development", Date.now() + 3600e3);
    };
    expect(await atExpiry(session("development", Date.now()), renew)).toBeNull();
    expect(asked).toBe(false);
  });

  it("acts on an Entra ID token a minute early, on others at expiry", () => {
    expect(expiryDelay(session("entra", 10 * 60e3), 0)).toBe(9 * 60e3);
    expect(expiryDelay(session("pasted", 10 * 60e3), 0)).toBe(10 * 60e3);
    expect(expiryDelay(session("pasted", null), 0)).toBeNull();
  });
});
