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
