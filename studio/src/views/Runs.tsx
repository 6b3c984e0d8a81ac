// Run history: the runs of one experiment or of all of them (runs:query, docs/contract.md
// §6, one query per experiment merged newest first), a page at a time, filtered by
// status, time, pipeline and endpoint. The filters are in the URL, so a filtered list
// can be shared. While a listed run has not ended, the list updates live (poll.ts); while the
// tab is seen, runs submitted elsewhere appear at the top (a check every 5 s at most).

import { useEffect, useRef, useState } from "preact/hooks";
import type { Experiment, RunDto } from "../api";
import { duration, ended, shortId, time } from "../format";
import { Merged, Watermarks, mergeFresh, unlisted } from "../merge";
import type { PollJob } from "../poll";
import { pollLoop, whileVisible } from "../poll";
import { link, navigate } from "../router";
import { Empty, ErrorBox, Heading, Link, Loading, StatusBadge, TableWrap, useLoad, useStudio } from "./common";

const POLL_INTERVAL = 1000;
/** How often the list looks for runs submitted since it was read (while the tab is seen). */
export const NEW_RUNS_INTERVAL = 5000;
const PAGE = 25;
const STATUSES = ["NotStarted", "Running", "CancelRequested", "Completed", "Failed", "Canceled"];
const STATUS_NAMES: Record<string, string> = {
  NotStarted: "Not started",
  Running: "Running",
  CancelRequested: "Canceling",
  Completed: "Finished",
  Failed: "Failed",
  Canceled: "Canceled",
};
const SINCE: [string, string, number][] = [
  ["", "Any time", 0],
  ["1h", "The last hour", 3600e3],
  ["24h", "The last 24 hours", 24 * 3600e3],
  ["7d", "The last 7 days", 7 * 24 * 3600e3],
  ["30d", "The last 30 days", 30 * 24 * 3600e3],
];

function quote(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

/** The OData filter of runs:query for these choices (pipeline runs only, not their steps). */
export function runFilter(choices: { status?: string | null; since?: string | null; pipeline?: string | null; endpoint?: string | null }, now = Date.now()): string {
  const parts = ["RunType eq 'azureml.PipelineRun'"];
  if (choices.status) parts.push(`Status eq ${quote(choices.status)}`);
  const since = SINCE.find(([key]) => key === choices.since)?.[2];
  if (since) parts.push(`CreatedUtc ge datetime'${new Date(now - since).toISOString()}'`);
  if (choices.pipeline) parts.push(`Properties/azureml.pipelineid eq ${quote(choices.pipeline)}`);
  if (choices.endpoint) parts.push(`Properties/azureml.pipelineEndpointId eq ${quote(choices.endpoint)}`);
  return parts.join(" and ");
}

const newestFirst = (a: RunDto, b: RunDto) => (b.createdUtc ?? "").localeCompare(a.createdUtc ?? "");
const runId = (run: RunDto) => run.runId;

export function Runs({ query }: { query: URLSearchParams }) {
  const { api, workspace } = useStudio();
  const experiment = query.get("experiment") ?? ""; // none named: every experiment
  const status = query.get("status") ?? "";
  const since = query.get("since") ?? "";
  const pipeline = query.get("pipeline") ?? "";
  const endpoint = query.get("endpoint") ?? "";

  const experiments = useLoad(() => api.experiments(), []);
  // The pipelines' names, for the Pipeline column (runs name their pipeline by id).
  const pipelines = useLoad(async () => new Map((await api.pipelines(false)).items.map((p) => [p.Id, p.Name ?? p.Id])), []);

  const [list, setList] = useState<{ rows: RunDto[]; more: boolean; round: number } | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const [round, setRound] = useState(0);
  const [news, setNews] = useState("");
  const pager = useRef<Merged<RunDto> | null>(null);
  const marks = useRef<Watermarks | null>(null);
  const rowsRef = useRef<RunDto[]>([]);
  rowsRef.current = list?.rows ?? [];
  const experimentCount = useRef<number | undefined>(undefined);
  experimentCount.current = experiments.data?.length;

  // The first page: one query per experiment (one when an experiment is named), merged. The
  // experiments' last run times, read first, tell later checks which ones have new runs.
  useEffect(() => {
    let stopped = false;
    setList(null);
    setFailure(null);
    setNews("");
    (async () => {
      const all = await api.experiments();
      const names = experiment ? [experiment] : all.map((e) => e.name);
      marks.current = new Watermarks(all);
      const filter = runFilter({ status, since, pipeline, endpoint });
      const merged = new Merged<RunDto>(
        names.map((name) => async (token) => {
          const page = await api.queryRuns(name, filter, PAGE, token);
          return { items: page.value, next: page.continuationToken };
        }),
        newestFirst,
      );
      const rows = await merged.more(PAGE);
      if (stopped) return;
      pager.current = merged;
      setList({ rows, more: !merged.done, round });
    })().catch((error) => !stopped && setFailure(error));
    return () => {
      stopped = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [experiment, status, since, pipeline, endpoint, round]);

  const older = async () => {
    const merged = pager.current;
    if (!merged) return;
    setBusy(true);
    try {
      const rows = await merged.more(PAGE);
      setList((l) => l && { ...l, rows: [...l.rows, ...unlisted(l.rows, rows, runId)], more: !merged.done });
    } catch (error) {
      setFailure(error);
    } finally {
      setBusy(false);
    }
  };

  // Live: each listed run that has not ended is read again, in turns, at most once a second.
  const activeCount = (list?.rows ?? []).filter((r) => !ended(r.status)).length;
  useEffect(() => {
    if (!list || activeCount === 0) return;
    const controller = new AbortController();
    const jobs = (): PollJob[] =>
      rowsRef.current
        .filter((r) => !ended(r.status))
        .map((r) => ({
          name: r.runId,
          run: async () => {
            const next = await api.historyRun(r.runId);
            if (!controller.signal.aborted) setList((l) => l && { ...l, rows: l.rows.map((row) => (row.runId === next.runId ? next : row)) });
          },
        }));
    void pollLoop({ jobs, interval: POLL_INTERVAL, signal: controller.signal, since: Date.now() });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [list?.round, list?.rows.length, activeCount > 0]);

  // New runs, submitted elsewhere while the list is open: every 5 s at most, while the tab is
  // seen, one read of the experiments says which ones have runs newer than the list knew; only
  // their first pages are read again, and what is new goes in at the top ("Older runs" loaded stay).
  useEffect(() => {
    if (!list) return;
    const controller = new AbortController();
    const check = async () => {
      const watermarks = marks.current;
      if (!watermarks) return;
      const fresh: Experiment[] = await api.experiments();
      if (controller.signal.aborted) return;
      if (fresh.length !== experimentCount.current) experiments.set(fresh); // the experiment list, and "No runs yet"
      const changed = watermarks.changed(experiment ? fresh.filter((e) => e.name === experiment) : fresh);
      if (changed.length === 0) return;
      const filter = runFilter({ status, since, pipeline, endpoint });
      const pages = await Promise.all(changed.map((e) => api.queryRuns(e.name, filter, PAGE, null)));
      if (controller.signal.aborted) return;
      watermarks.read(changed);
      const found = pages.flatMap((page) => page.value);
      const known = new Set(rowsRef.current.map(runId));
      const added = found.filter((run) => !known.has(run.runId)).length;
      setList((l) => l && { ...l, rows: mergeFresh(l.rows, found, runId, newestFirst).rows });
      if (added) setNews(added === 1 ? "1 new run listed at the top." : `${added} new runs listed at the top.`);
    };
    void whileVisible({ run: check, interval: NEW_RUNS_INTERVAL, signal: controller.signal, since: Date.now() });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [list?.round, list === null]);

  // The durations of running runs move on between reads.
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (activeCount === 0) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [activeCount > 0]);

  // A new filter starts again at the newest page.
  const go = (change: Record<string, string | null>) => {
    navigate(link("runs", { ws: workspace }, { experiment, status, since, pipeline, endpoint, ...change }));
  };
  const onFilter = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    go({
      experiment: String(form.get("experiment") ?? ""),
      status: String(form.get("status") ?? ""),
      since: String(form.get("since") ?? ""),
    });
  };
  const names = pipelines.data ?? new Map<string, string>();

  return (
    <>
      <Heading title="Run history">Run history</Heading>
      {/* Uncontrolled lists (each option knows if it is chosen): the list re-renders every second
          while runs are live, and must not undo a choice not yet applied. */}
      <form class="filters" onSubmit={onFilter} aria-label="Filter runs">
        <div class="field">
          <label for="filter-experiment">Experiment</label>
          <select id="filter-experiment" name="experiment" key={`${experiment}:${experiments.data?.length ?? 0}`}>
            <option value="" selected={!experiment}>
              All experiments
            </option>
            {(experiments.data ?? []).map((e) => (
              <option key={e.experimentId} value={e.name} selected={e.name === experiment}>
                {e.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-status">Status</label>
          <select id="filter-status" name="status" key={status}>
            <option value="" selected={!status}>
              Any status
            </option>
            {STATUSES.map((word) => (
              <option key={word} value={word} selected={word === status}>
                {STATUS_NAMES[word]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-since">Submitted</label>
          <select id="filter-since" name="since" key={since}>
            {SINCE.map(([key, name]) => (
              <option key={key} value={key} selected={key === since}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <div class="field filter-apply">
          <button type="submit" class="button">
            Apply filters
          </button>
        </div>
      </form>
      {(pipeline || endpoint) && (
        <p class="chips">
          {pipeline && (
            <span class="chip">
              Pipeline {names.has(pipeline) ? <strong>{names.get(pipeline)}</strong> : <code>{shortId(pipeline)}</code>}{" "}
              <button type="button" class="button small" onClick={() => go({ pipeline: null })} aria-label="Remove the pipeline filter">
                Remove
              </button>
            </span>
          )}
          {endpoint && (
            <span class="chip">
              Endpoint <code>{shortId(endpoint)}</code>{" "}
              <button type="button" class="button small" onClick={() => go({ endpoint: null })} aria-label="Remove the endpoint filter">
                Remove
              </button>
            </span>
          )}
        </p>
      )}
      {!list && !failure && <Loading what="runs" />}
      {!!failure && <ErrorBox error={failure} retry={() => setRound((n) => n + 1)} />}
      {list && experiments.data?.length === 0 && <Empty>No runs yet: nothing has been submitted in this workspace.</Empty>}
      {list && list.rows.length === 0 && experiments.data?.length !== 0 && (
        <Empty>No runs match these filters{experiment ? ` in the experiment ${experiment}` : ""}.</Empty>
      )}
      <p class="visually-hidden" role="status">
        {news}
      </p>
      {list && list.rows.length > 0 && <RunTable runs={list.rows} names={names} now={now} />}
      {list?.more && (
        <nav class="pager" aria-label="Pages of runs">
          <button type="button" class="button" onClick={older} disabled={busy}>
            {busy ? "Loading older runs…" : "Older runs"}
          </button>
        </nav>
      )}
    </>
  );
}

function RunTable({ runs, names, now }: { runs: RunDto[]; names: Map<string, string>; now: number }) {
  const { workspace } = useStudio();
  return (
    <TableWrap label="Runs">
      <table>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            <th scope="col">Pipeline</th>
            <th scope="col">Submitted</th>
            <th scope="col">Duration</th>
            <th scope="col">Submitted by</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.runId}>
              <td>
                <Link href={link("run", { ws: workspace, runId: run.runId })}>
                  {run.runNumber !== null ? `Run ${run.runNumber}` : shortId(run.runId)}
                </Link>
                <span class="muted"> {shortId(run.runId)}</span>
              </td>
              <td>
                <StatusBadge word={run.status} />
              </td>
              <td>
                <PipelineName id={run.properties?.["azureml.pipelineid"]} names={names} />
              </td>
              <td>{time(run.createdUtc)}</td>
              <td>{duration(run.startTimeUtc, run.endTimeUtc, now)}</td>
              <td>
                {run.properties?.runSource || "API"}
                {run.createdBy?.userName ? `, as ${run.createdBy.userName}` : ""}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}

function PipelineName({ id, names }: { id: string | undefined; names: Map<string, string> }) {
  const { workspace } = useStudio();
  if (!id) return <>—</>;
  return <Link href={link("pipeline", { ws: workspace, id })}>{names.get(id) ?? shortId(id)}</Link>;
}
