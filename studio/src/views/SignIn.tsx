// Sign-in: the development issuer locally, Entra ID (MSAL.js) in Azure.

import { useState } from "preact/hooks";
import type { Role, Session } from "../auth";
import { ROLES, developmentToken, entraSignIn, sessionOf } from "../auth";
import type { StudioConfig } from "../config";
import { Heading } from "./common";

const ROLE_TEXT: Record<Role, string> = {
  "Pipelines.Read": "Read: see pipelines, endpoints, runs, logs and outputs",
  "Pipelines.Submit": "Submit: run pipelines and cancel runs",
  "Pipelines.Publish": "Publish: enable and disable pipelines and endpoints, set default versions",
  "Pipelines.Admin": "Admin: everything",
};

export function SignIn({ config, reason, onSession, returnTo }: { config: StudioConfig; reason: string | null; onSession: (s: Session) => void; returnTo: string }) {
  return (
    <main id="main" class="page signin" tabIndex={-1}>
      <Heading title="Sign in">Sign in to the pipelines studio</Heading>
      {reason && (
        <p class="notice" role="alert">
          {reason}
        </p>
      )}
      {config.signIn === "development" && <Development config={config} onSession={onSession} />}
      {config.signIn === "entra" && <Entra config={config} returnTo={returnTo} />}
      {config.signIn === "unconfigured" && (
        <div class="state error" role="alert">
          <p>
            <strong>Sign-in is not set up on this app.</strong> Its owner sets these app settings (docs/studio.md):
          </p>
          <ul>
            {(config.missing ?? []).map((name) => (
              <li key={name}>
                <code>{name}</code>
              </li>
            ))}
          </ul>
        </div>
      )}
    </main>
  );
}

function Development({ config, onSession }: { config: StudioConfig; onSession: (s: Session) => void }) {
  const [roles, setRoles] = useState<Role[]>(["Pipelines.Admin"]);
  const [error, setError] = useState<string | null>(null);
  const [pasted, setPasted] = useState("");
  const [busy, setBusy] = useState(false);
  const signIn = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSession(await developmentToken(config, roles));
    } catch (problem) {
      setError(problem instanceof Error ? problem.message : String(problem));
    } finally {
      setBusy(false);
    }
  };
  const usePasted = (event: Event) => {
    event.preventDefault();
    try {
      onSession(sessionOf(pasted, "pasted"));
    } catch (problem) {
      setError(`That is not a token: ${problem instanceof Error ? problem.message : String(problem)}`);
    }
  };
  const toggle = (role: Role, on: boolean) => setRoles((current) => (on ? [...current, role] : current.filter((r) => r !== role)));
  return (
    <>
      <p class="lead">
        This is the local development host: it hands this page a token of its development issuer, for the roles you pick. (Never in
        Azure: there you sign in with your Microsoft account.)
      </p>
      {error && (
        <p class="state error" role="alert">
          {error}
        </p>
      )}
      <form onSubmit={signIn} class="signin-form">
        <fieldset>
          <legend>Roles of the token</legend>
          {ROLES.map((role) => (
            <div class="check" key={role}>
              <input id={`role-${role}`} type="checkbox" checked={roles.includes(role)} onChange={(e) => toggle(role, (e.currentTarget as HTMLInputElement).checked)} />
              <label for={`role-${role}`}>{ROLE_TEXT[role]}</label>
            </div>
          ))}
        </fieldset>
        <button type="submit" class="button primary" disabled={busy || roles.length === 0}>
          Sign in as the local developer
        </button>
      </form>
      <details class="paste">
        <summary>Or paste a token</summary>
        <form onSubmit={usePasted}>
          <label for="pasted-token">
            A token from <code>python -m pipelines token --roles Pipelines.Read</code>
          </label>
          <textarea id="pasted-token" rows={4} value={pasted} onInput={(e) => setPasted((e.currentTarget as HTMLTextAreaElement).value)} />
          <button type="submit" class="button" disabled={!pasted.trim()}>
            Use this token
          </button>
        </form>
      </details>
    </>
  );
}

function Entra({ config, returnTo }: { config: StudioConfig; returnTo: string }) {
  const [error, setError] = useState<string | null>(null);
  const start = async () => {
    try {
      await entraSignIn(config, returnTo);
    } catch (problem) {
      setError(problem instanceof Error ? problem.message : String(problem));
    }
  };
  return (
    <>
      <p class="lead">Sign in with the work account your team uses for Azure. The studio shows what your roles allow.</p>
      {error && (
        <p class="state error" role="alert">
          Sign-in failed: {error}
        </p>
      )}
      <button type="button" class="button primary" onClick={start}>
        Sign in with Microsoft
      </button>
    </>
  );
}
