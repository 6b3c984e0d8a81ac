// Run history: the runs of one experiment or of all of them (runs:query, docs/contract.md
// §6, one query per experiment merged newest first), a page at a time, filtered by
// status, time, pipeline and endpoint. The filters are in the URL, so a filtered list
// can be shared. While a listed run has not ended, the list updates live (poll.ts).

import { useEffect, useRef, useState } from "preact/hooks";
import type { RunDto } from "../api";
import { duration, ended, shortId, time } from "../format";
import { Merged } from "../merge";
import type { PollJob } from "../poll";
import { pollLoop } from "../poll";
import { link, navigate } from "../router";
import { Empty, ErrorBox, Heading, Link, Loading, StatusBadge, TableWrap, useLoad, useStudio } from "./common";

const POLL_INTERVAL = 1000;
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
  const pager = useRef<Merged<RunDto> | null>(null);
  const rowsRef = useRef<RunDto[]>([]);
  rowsRef.current = list?.rows ?? [];

  // The first page: one query per experiment (one when an experiment is named), merged.
  useEffect(() => {
    let stopped = false;
    setList(null);
    setFailure(null);
    (async () => {
      const names = experiment ? [experiment] : (await api.experiments()).map((e) => e.name);
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
      setList((l) => l && { ...l, rows: [...l.rows, ...rows], more: !merged.done });
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
