// Every view has a URL of its own, under /studio/, so it can be shared. The app answers
// index.html for any such path (pipelines/studio/__init__.py `find`); this module maps the
// path to a view in the browser.

import { useEffect, useState } from "preact/hooks";
import { BASE } from "./config";

export type ViewName =
  | "home"
  | "signin"
  | "endpoints"
  | "endpoint"
  | "endpointRun"
  | "pipeline"
  | "pipelineRun"
  | "runs"
  | "run"
  | "automation"
  | "unknown";

export interface Route {
  view: ViewName;
  params: Record<string, string>;
  query: URLSearchParams;
}

const PATTERNS: [ViewName, string][] = [
  ["signin", "signin"],
  ["endpoints", "w/:ws/endpoints"],
  ["endpoint", "w/:ws/endpoints/:name"],
  ["endpointRun", "w/:ws/endpoints/:name/run"],
  ["pipeline", "w/:ws/pipelines/:id"],
  ["pipelineRun", "w/:ws/pipelines/:id/run"],
  ["runs", "w/:ws/runs"],
  ["run", "w/:ws/runs/:runId"],
  ["automation", "w/:ws/automation"],
];

export function parse(pathname: string, search: string): Route {
  const query = new URLSearchParams(search);
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname.replace(/^\/studio\/?/, "");
  const segments = rest.split("/").filter(Boolean).map(decodeURIComponent);
  if (segments.length === 0) return { view: "home", params: {}, query };
  for (const [view, pattern] of PATTERNS) {
    const parts = pattern.split("/");
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matched = parts.every((part, index) => {
      if (part.startsWith(":")) {
        params[part.slice(1)] = segments[index];
        return true;
      }
      return part === segments[index];
    });
    if (matched) return { view, params, query };
  }
  return { view: "unknown", params: {}, query };
}

/** The URL of a view: `link("run", {ws, runId}, {step})`. */
export function link(view: ViewName, params: Record<string, string> = {}, query: Record<string, string | null | undefined> = {}): string {
  const pattern = PATTERNS.find(([name]) => name === view)?.[1] ?? "";
  const path = pattern
    .split("/")
    .map((part) => (part.startsWith(":") ? encodeURIComponent(params[part.slice(1)] ?? "") : part))
    .join("/");
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== null && value !== undefined && value !== "") search.set(key, value);
  }
  const text = search.toString();
  return `${BASE}${path}${text ? `?${text}` : ""}`;
}

const CHANGED = "studio:navigate";

export function navigate(url: string, replace = false): void {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event(CHANGED));
}

export function current(): Route {
  return parse(location.pathname, location.search);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(current);
  useEffect(() => {
    const update = () => setRoute(current());
    window.addEventListener("popstate", update);
    window.addEventListener(CHANGED, update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener(CHANGED, update);
    };
  }, []);
  return route;
}

/** A plain left click on an in-app link changes the view without reloading the page. */
export function follow(event: MouseEvent): void {
  const anchor = (event.currentTarget as HTMLAnchorElement | null) ?? null;
  if (!anchor || event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || anchor.target) return;
  event.preventDefault();
  navigate(anchor.getAttribute("href") ?? BASE);
}
