// Sign-in: who the user is, what their token lets them do, and where the token comes from.
//
// - Locally (config.signIn "development") the development host hands the page a token
//   for the roles the developer picks (GET /.devissuer/token?roles=...), or the developer
//   pastes one from `python -m pipelines token`. It is kept in sessionStorage: gone when
//   the tab closes, never in localStorage.
// - In Azure ("entra") MSAL.js signs in with the authorization code flow and PKCE; its
//   cache lives in sessionStorage too. MSAL is loaded only then, so local pages never
//   download it.

import type { StudioConfig } from "./config";

export type Role = "Pipelines.Read" | "Pipelines.Submit" | "Pipelines.Publish" | "Pipelines.Admin";
export const ROLES: Role[] = ["Pipelines.Read", "Pipelines.Submit", "Pipelines.Publish", "Pipelines.Admin"];
// "automate": write a schedule or an event trigger, which starts runs later in no caller's name,
// so the service asks for Publish and Submit both (pipelines/api/routes.py `also`).
export type Action = "read" | "submit" | "publish" | "automate";

// What each role grants (pipelines/auth/permissions.py GRANTS): Submit and Publish imply Read.
const GRANTS: Record<Role, Action[]> = {
  "Pipelines.Read": ["read"],
  "Pipelines.Submit": ["read", "submit"],
  "Pipelines.Publish": ["read", "publish"],
  "Pipelines.Admin": ["read", "submit", "publish"],
};

export interface Claims {
  name?: string;
  preferred_username?: string;
  upn?: string;
  oid?: string;
  exp?: number;
  roles?: string[];
  scp?: string;
}

export interface Session {
  token: string;
  claims: Claims;
  roles: Role[];
  actions: Set<Action>;
  expiresAt: number | null; // epoch milliseconds
  source: "development" | "pasted" | "entra";
}

const STORAGE_KEY = "studio.session";

export function decodeClaims(token: string): Claims {
  const part = token.split(".")[1];
  if (!part) throw new Error("this is not a JSON Web Token (it has no payload)");
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(bytes)) as Claims;
}

/** Roles and scopes of the token that the app knows, as the app reads them (roles + scp). */
export function rolesOf(claims: Claims): Role[] {
  const named = new Set<string>([...(claims.roles ?? []), ...(claims.scp ?? "").split(" ")]);
  return ROLES.filter((role) => named.has(role));
}

/** What these roles let the page offer: each role's grants, and "automate" when they hold both
 * Publish and Submit (held together by Pipelines.Admin, or by the two roles). */
export function actionsOf(roles: Role[]): Set<Action> {
  const actions = new Set<Action>(roles.flatMap((role) => GRANTS[role]));
  if (actions.has("publish") && actions.has("submit")) actions.add("automate");
  return actions;
}

export function sessionOf(token: string, source: Session["source"]): Session {
  const claims = decodeClaims(token.trim());
  const roles = rolesOf(claims);
  const actions = actionsOf(roles);
  return {
    token: token.trim(),
    claims,
    roles,
    actions,
    expiresAt: typeof claims.exp === "number" ? claims.exp * 1000 : null,
    source,
  };
}

export function expired(session: Session, now = Date.now()): boolean {
  return session.expiresAt !== null && session.expiresAt <= now;
}

/**
 * What happens when a session reaches the end of its token's life: a token from Entra ID
 * is renewed silently (MSAL's acquireTokenSilent, through `renew`); the others, and a
 * renewal that fails or brings no later expiry, end the session (null: sign in again).
 */
export async function atExpiry(session: Session, renew: () => Promise<Session | null>): Promise<Session | null> {
  if (session.source !== "entra") return null;
  try {
    const renewed = await renew();
    if (renewed && (renewed.expiresAt === null || renewed.expiresAt > Date.now())) return renewed;
  } catch {
    // interaction needed: the sign-in page offers it
  }
  return null;
}

/** When to act on a session's expiry: a token from Entra ID a minute early, to renew it in time. */
export function expiryDelay(session: Session, now = Date.now()): number | null {
  if (session.expiresAt === null) return null;
  const early = session.source === "entra" ? 60_000 : 0;
  return Math.max(0, Math.min(session.expiresAt - early - now, 2 ** 31 - 1));
}

export function displayName(session: Session): string {
  const c = session.claims;
  return c.name || c.preferred_username || c.upn || c.oid || "signed-in user";
}

// -- storage of development and pasted tokens -------------------------------------------------------
export function storedSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const saved = JSON.parse(raw) as { token: string; source: Session["source"] };
    return sessionOf(saved.token, saved.source);
  } catch {
    return null;
  }
}

export function keep(session: Session): void {
  if (session.source !== "entra") {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify({ token: session.token, source: session.source }));
  }
}

export function forget(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

// -- development sign-in ---------------------------------------------------------------------------
export async function developmentToken(config: StudioConfig, roles: Role[]): Promise<Session> {
  const url = `${config.tokenUrl ?? "/.devissuer/token"}?roles=${encodeURIComponent(roles.join(","))}`;
  let response: Response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch {
    throw new Error("the development host does not answer: is `make run` still running?");
  }
  if (response.status === 404) {
    throw new Error(
      "this host hands out no development tokens (Core Tools does not): paste one from `python -m pipelines token`",
    );
  }
  if (!response.ok) throw new Error(`the development host refused a token (HTTP ${response.status})`);
  const body = (await response.json()) as { access_token: string };
  return sessionOf(body.access_token, "development");
}

// -- Entra ID sign-in with MSAL.js -------------------------------------------------------------------
type Msal = import("@azure/msal-browser").PublicClientApplication;
let msal: Promise<Msal> | null = null;

function msalApp(config: StudioConfig): Promise<Msal> {
  if (!msal) {
    msal = import("@azure/msal-browser").then(async ({ PublicClientApplication, BrowserCacheLocation }) => {
      const app = new PublicClientApplication({
        auth: {
          clientId: config.clientId ?? "",
          authority: config.authority,
          redirectUri: `${location.origin}/studio/`,
          postLogoutRedirectUri: `${location.origin}/studio/`,
        },
        cache: { cacheLocation: BrowserCacheLocation.SessionStorage },
      });
      await app.initialize();
      return app;
    });
  }
  return msal;
}

/** After a redirect back from Entra ID, or on any load: the signed-in account's token, if any. */
export async function entraSession(config: StudioConfig): Promise<Session | null> {
  const app = await msalApp(config);
  const result = await app.handleRedirectPromise();
  const account = result?.account ?? app.getActiveAccount() ?? app.getAllAccounts()[0];
  if (!account) return null;
  app.setActiveAccount(account);
  try {
    const token = await app.acquireTokenSilent({ scopes: config.scopes ?? [], account });
    return sessionOf(token.accessToken, "entra");
  } catch {
    return null; // interaction needed: the sign-in page offers it
  }
}

export async function entraSignIn(config: StudioConfig, returnTo: string): Promise<void> {
  const app = await msalApp(config);
  sessionStorage.setItem("studio.returnTo", returnTo);
  await app.loginRedirect({ scopes: config.scopes ?? [] });
}

export async function entraSignOut(config: StudioConfig): Promise<void> {
  const app = await msalApp(config);
  await app.logoutRedirect();
}

export function takeReturnTo(): string | null {
  const value = sessionStorage.getItem("studio.returnTo");
  sessionStorage.removeItem("studio.returnTo");
  return value;
}
