// The frame of every view: the header (where to go, who is signed in) and the view the
// URL names. Signed out, or with a token past its lifetime, the sign-in page instead.

import { useEffect, useMemo, useState } from "preact/hooks";
import { Api } from "../api";
import type { Action, Session } from "../auth";
import { atExpiry, displayName, entraSession, entraSignOut, expired, expiryDelay, forget, keep } from "../auth";
import type { StudioConfig } from "../config";
import { link, navigate, useRoute } from "../router";
import { Automation } from "./Automation";
import { Heading, Link, Redirect, StudioContext } from "./common";
import { EndpointPage, PipelinePage } from "./Pipeline";
import { Endpoints } from "./Endpoints";
import { RunForm } from "./RunForm";
import { RunPage } from "./Run";
import { Runs } from "./Runs";
import { SignIn } from "./SignIn";

export function App({ config, initial }: { config: StudioConfig; initial: Session | null }) {
  const route = useRoute();
  const [session, setSession] = useState<Session | null>(initial);
  const [reason, setReason] = useState<string | null>(null);
  const workspace = route.params.ws ?? config.workspace.name;

  // Expiring while the page is open: an Entra ID token is renewed silently; otherwise (or
  // when renewal fails) back to sign-in, saying why.
  useEffect(() => {
    if (!session) return;
    const delay = expiryDelay(session);
    if (delay === null) return;
    let stopped = false;
    const timer = setTimeout(async () => {
      const renewed = await atExpiry(session, () => entraSession(config));
      if (stopped) return;
      if (renewed) setSession(renewed);
      else signOut("Your sign-in has expired. Sign in again to go on.");
    }, delay);
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [session]);

  const api = useMemo(() => {
    if (!session) return null;
    const tokens = {
      token: async () => {
        if (session.source === "entra" && session.expiresAt !== null && session.expiresAt - Date.now() < 120_000) {
          const renewed = await entraSession(config);
          if (renewed) {
            setSession(renewed);
            return renewed.token;
          }
        }
        return session.token;
      },
      expired: () => expired(session),
    };
    const client = new Api({ ...config.workspace, name: workspace }, tokens);
    client.onAuthProblem((error) =>
      signOut(error.kind === "expired" ? "Your sign-in has expired. Sign in again to go on." : `The service did not accept your sign-in: ${error.message}`),
    );
    return client;
  }, [session, workspace]);

  function signOut(why: string | null) {
    forget();
    setReason(why);
    setSession(null);
  }

  const accept = (next: Session) => {
    keep(next);
    setReason(null);
    setSession(next);
    if (route.view === "signin" || route.view === "home") navigate(route.query.get("next") ?? link("endpoints", { ws: workspace }), true);
  };

  if (!session || expired(session) || !api) {
    const why = reason ?? (session && expired(session) ? "Your sign-in has expired. Sign in again to go on." : null);
    return <SignIn config={config} reason={why} onSession={accept} returnTo={location.pathname + location.search} />;
  }

  if (route.view === "home" || route.view === "signin") {
    return <Redirect to={route.query.get("next") ?? link("endpoints", { ws: workspace })} />;
  }

  const studio = { api, session, workspace, can: (action: Action) => session.actions.has(action) };
  const roles = session.roles.map((role) => role.replace("Pipelines.", "")).join(", ") || "no roles";
  const section =
    route.view === "automation"
      ? "automation"
      : route.view.startsWith("run") && route.view !== "endpointRun" && route.view !== "pipelineRun"
        ? "runs"
        : "endpoints";

  return (
    <StudioContext.Provider value={studio}>
      <a class="skip" href="#main">
        Skip to the content
      </a>
      <header class="top">
        <Link class="brand" href={link("endpoints", { ws: workspace })}>
          Pipelines studio
        </Link>
        <nav aria-label="Main">
          <ul>
            <li>
              <Link href={link("endpoints", { ws: workspace })} current={section === "endpoints"}>
                Endpoints
              </Link>
            </li>
            <li>
              <Link href={link("runs", { ws: workspace })} current={section === "runs"}>
                Runs
              </Link>
            </li>
            <li>
              <Link href={link("automation", { ws: workspace })} current={section === "automation"}>
                Automation
              </Link>
            </li>
          </ul>
        </nav>
        <div class="who">
          <span class="who-name">{displayName(session)}</span> <span class="who-roles">({roles})</span>{" "}
          <button
            type="button"
            class="button small"
            onClick={() => (session.source === "entra" ? void entraSignOut(config) : signOut(null))}
          >
            Sign out
          </button>
        </div>
      </header>
      <main id="main" class="page" tabIndex={-1}>
        {!session.actions.has("read") && (
          <p class="notice" role="alert">
            Your sign-in carries none of the studio's roles (Pipelines.Read, Submit, Publish or Admin): the service will refuse what
            you ask. Ask an owner of the app for a role.
          </p>
        )}
        <View route={route} />
      </main>
    </StudioContext.Provider>
  );
}

function View({ route }: { route: ReturnType<typeof useRoute> }) {
  const { params, query } = route;
  switch (route.view) {
    case "endpoints":
      return <Endpoints showAll={query.get("all") === "1"} />;
    case "endpoint":
      return <EndpointPage name={params.name} />;
    case "endpointRun":
      return <RunForm endpointName={params.name} version={query.get("version")} />;
    case "pipeline":
      return <PipelinePage id={params.id} />;
    case "pipelineRun":
      return <RunForm pipelineId={params.id} version={null} />;
    case "runs":
      return <Runs query={query} />;
    case "run":
      return <RunPage runId={params.runId} query={query} />;
    case "automation":
      return <Automation />;
    default:
      return (
        <>
          <Heading title="Not found">No such page</Heading>
          <p>
            The studio has no page at this address. <Link href={link("endpoints", { ws: params.ws ?? "default" })}>Go to the endpoints</Link>.
          </p>
        </>
      );
  }
}
