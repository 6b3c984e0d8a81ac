// The studio's entry point: read the settings, find the signed-in user, show the view.

import { render } from "preact";
import type { Session } from "./auth";
import { entraSession, storedSession, takeReturnTo } from "./auth";
import { loadConfig } from "./config";
import { navigate } from "./router";
import "./styles.css";
import { App } from "./views/App";

async function start(): Promise<void> {
  const root = document.getElementById("app");
  if (!root) return;
  let config;
  try {
    config = await loadConfig();
  } catch (error) {
    root.innerHTML = "";
    render(
      <main class="page" id="main">
        <h1>The studio cannot start</h1>
        <p class="state error" role="alert">
          {error instanceof Error ? error.message : String(error)}. The service may be down: try again in a moment.
        </p>
      </main>,
      root,
    );
    return;
  }
  let session: Session | null = null;
  if (config.signIn === "entra") {
    try {
      session = await entraSession(config);
      const back = takeReturnTo();
      if (session && back) navigate(back, true);
    } catch {
      session = null;
    }
  } else if (config.signIn === "development") {
    session = storedSession();
  }
  root.innerHTML = "";
  render(<App config={config} initial={session} />, root);
}

void start();
