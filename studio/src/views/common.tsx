// Pieces every view uses: links, status badges, copy buttons, and the loading, empty and
// error states in words.

import type { ComponentChildren } from "preact";
import { createContext } from "preact";
import { useCallback, useContext, useEffect, useRef, useState } from "preact/hooks";
import type { Api } from "../api";
import { ApiError, describe } from "../api";
import type { Action, Session } from "../auth";
import { label, tone } from "../format";
import { follow, navigate } from "../router";

export interface Studio {
  api: Api;
  session: Session;
  workspace: string;
  can: (action: Action) => boolean;
}

export const StudioContext = createContext<Studio | null>(null);

export function useStudio(): Studio {
  const studio = useContext(StudioContext);
  if (!studio) throw new Error("the studio is not signed in");
  return studio;
}

export function Link(props: { href: string; children: ComponentChildren; class?: string; "aria-label"?: string; current?: boolean }) {
  return (
    <a href={props.href} onClick={follow} class={props.class} aria-label={props["aria-label"]} aria-current={props.current ? "page" : undefined}>
      {props.children}
    </a>
  );
}

export function StatusBadge({ word }: { word: string }) {
  return (
    <span class={`badge tone-${tone(word)}`}>
      <span class="badge-mark" aria-hidden="true" />
      {label(word)}
    </span>
  );
}

export function EntityBadge({ status }: { status: number }) {
  const word = ["Active", "Deprecated", "Disabled"][status] ?? String(status);
  return <span class={`badge entity-${word.toLowerCase()}`}>{word}</span>;
}

export function CopyButton({ text, what }: { text: string; what: string }) {
  const [done, setDone] = useState<"" | "copied" | "failed">("");
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone("copied");
    } catch {
      setDone("failed");
    }
    setTimeout(() => setDone(""), 2500);
  };
  return (
    <span class="copy">
      <button type="button" class="button small" onClick={copy} aria-label={`Copy ${what}`}>
        Copy
      </button>
      <span role="status" class="copy-state">
        {done === "copied" ? "Copied" : done === "failed" ? "Copy failed: select the text instead" : ""}
      </span>
    </span>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="state loading" role="status">
      <span class="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function ErrorBox({ error, retry }: { error: unknown; retry?: () => void }) {
  const { title, text } = describe(error);
  const kind = error instanceof ApiError ? error.kind : "client";
  return (
    <div class={`state error kind-${kind}`} role="alert">
      <p>
        <strong>{title}.</strong> {text}
      </p>
      {retry && (
        <button type="button" class="button small" onClick={retry}>
          Try again
        </button>
      )}
    </div>
  );
}

export interface Loaded<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  set: (value: T) => void;
}

/** Loads `load()` when `keys` change; `reload()` asks again. */
export function useLoad<T>(load: () => Promise<T>, keys: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  const latest = useRef(0);
  useEffect(() => {
    const mine = ++latest.current;
    setState((previous) => ({ data: previous.data, loading: true }));
    load().then(
      (data) => mine === latest.current && setState({ data, loading: false }),
      (error) => mine === latest.current && setState({ error, loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...keys, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  const set = useCallback((data: T) => setState({ data, loading: false }), []);
  return { data: state.data, error: state.error, loading: state.loading, reload, set };
}

/** Replaces the URL (after the render, never during it). */
export function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

/** The page's title and its main heading, which gets the focus when the view changes. */
export function Heading({ children, title }: { children: ComponentChildren; title: string }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Pipelines studio`;
    ref.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <h1 ref={ref} tabIndex={-1}>
      {children}
    </h1>
  );
}

export function Section(props: { title: string; id?: string; children: ComponentChildren; actions?: ComponentChildren }) {
  const id = props.id ?? props.title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return (
    <section class="panel" aria-labelledby={`${id}-title`}>
      <div class="panel-head">
        <h2 id={`${id}-title`}>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

/** A table that scrolls sideways on a narrow screen, reachable with the keyboard. */
export function TableWrap({ label: name, children }: { label: string; children: ComponentChildren }) {
  return (
    <div class="table-wrap" tabIndex={0} role="region" aria-label={name}>
      {children}
    </div>
  );
}

export function ActionError({ error }: { error: unknown }) {
  if (!error) return null;
  const { title, text } = describe(error);
  return (
    <p class="action-error" role="alert">
      <strong>{title}.</strong> {text}
    </p>
  );
}
