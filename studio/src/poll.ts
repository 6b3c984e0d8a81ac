// Live updates that never hammer the API: one request per `interval` at most, taking
// turns between the jobs that still have something to watch, and none once every job
// is done (the run has ended and its last state was read).

export interface PollJob {
  name: string;
  run: () => Promise<void>;
}

export interface PollOptions {
  /** The jobs still active, asked before every request; none ends the loop. */
  jobs: () => PollJob[];
  interval: number;
  signal: AbortSignal;
  /** When the page last asked the API (its first load): the loop keeps the pace from there. */
  since?: number;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done);
  });
}

export async function pollLoop(options: PollOptions): Promise<void> {
  const now = options.now ?? (() => Date.now());
  const wait = options.sleep ?? sleep;
  let turn = 0;
  let last = options.since ?? Number.NEGATIVE_INFINITY;
  while (!options.signal.aborted) {
    const jobs = options.jobs();
    if (jobs.length === 0) return;
    const gap = options.interval - (now() - last);
    if (gap > 0) {
      await wait(gap, options.signal);
      continue; // the jobs may have changed while waiting
    }
    const job = jobs[turn % jobs.length];
    turn += 1;
    last = now();
    try {
      await job.run();
    } catch {
      // a job shows its own errors; the loop goes on at the same pace
    }
  }
}

export interface RepeatOptions {
  run: () => Promise<void>;
  /** At most one run per `interval`. */
  interval: number;
  signal: AbortSignal;
  /** When the page last asked (its first load): the first run waits a whole interval from there. */
  since?: number;
  /** Whether the tab is seen; default `document.visibilityState === "visible"`. */
  visible?: () => boolean;
  /** Resolves when the tab may be seen again (or the loop is stopped). */
  shown?: (signal: AbortSignal) => Promise<void>;
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

function tabVisible(): boolean {
  return typeof document === "undefined" || document.visibilityState === "visible";
}

/** Resolves when the tab is shown again, or when `signal` stops the wait. */
export function untilShown(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted || tabVisible()) return resolve();
    function done() {
      if (!signal.aborted && !tabVisible()) return;
      document.removeEventListener("visibilitychange", done);
      signal.removeEventListener("abort", done);
      resolve();
    }
    document.addEventListener("visibilitychange", done);
    signal.addEventListener("abort", done);
  });
}

/**
 * A check that goes on while the page is open (new runs of a list, say): `run` at most once per
 * `interval`, and never while the tab is hidden (a hidden tab asks nothing; shown again, it asks
 * at once if an interval has passed). It ends only when `signal` stops it.
 */
export async function whileVisible(options: RepeatOptions): Promise<void> {
  const now = options.now ?? (() => Date.now());
  const wait = options.sleep ?? sleep;
  const visible = options.visible ?? tabVisible;
  const shown = options.shown ?? untilShown;
  let last = options.since ?? Number.NEGATIVE_INFINITY;
  while (!options.signal.aborted) {
    if (!visible()) {
      await shown(options.signal);
      continue;
    }
    const gap = options.interval - (now() - last);
    if (gap > 0) {
      await wait(gap, options.signal);
      continue; // the tab may have been hidden meanwhile
    }
    last = now();
    try {
      await options.run();
    } catch {
      // the check shows its own errors, if any; it goes on at the same pace
    }
  }
}
