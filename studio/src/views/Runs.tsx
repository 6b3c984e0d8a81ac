// Run history: an experiment's runs (runs:query, docs/contract.md §6), newest first,
// a page at a time, filtered by status, time, pipeline and endpoint. The filters are
// in the URL, so a filtered list can be shared.

import type { RunDto } from "../api";
import { duration, shortId, time } from "../format";
import { link, navigate } from "../router";
import { Empty, ErrorBox, Heading, Link, Loading, StatusBadge, TableWrap, useLoad, useStudio } from "./common";

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

export function Runs({ query }: { query: URLSearchParams }) {
  const { api, workspace } = useStudio();
  const status = query.get("status") ?? "";
  const since = query.get("since") ?? "";
  const pipeline = query.get("pipeline") ?? "";
  const endpoint = query.get("endpoint") ?? "";
  const page = query.get("page") ?? "";
  const previous = query.getAll("back");

  const experiments = useLoad(() => api.experiments(), []);
  // Without an experiment named, the one of the newest run of the pipeline (or endpoint), else the latest used.
  const chosen = useLoad(async () => {
    const named = query.get("experiment");
    if (named) return named;
    if (pipeline) {
      const newest = (await api.runsOfPipeline(pipeline, 1)).items[0];
      if (newest?.RunHistoryExperimentName) return newest.RunHistoryExperimentName;
    }
    const list = (await api.experiments()).value;
    const latest = [...list].sort((a, b) => (b.lastCreatedRunUtc ?? "").localeCompare(a.lastCreatedRunUtc ?? ""))[0];
    return latest?.name ?? "";
  }, [query.get("experiment"), pipeline]);
  const experiment = chosen.data ?? "";
  const runs = useLoad(
    async () => (experiment ? api.queryRuns(experiment, runFilter({ status, since, pipeline, endpoint }), PAGE, page || null) : null),
    [experiment, status, since, pipeline, endpoint, page],
  );

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
  const pageUrl = (token: string | null, back: string[]) => {
    const params: Record<string, string | null> = { experiment, status, since, pipeline, endpoint, page: token };
    const url = new URL(link("runs", { ws: workspace }, params), location.origin);
    for (const item of back) url.searchParams.append("back", item);
    return url.pathname + url.search;
  };

  return (
    <>
      <Heading title="Run history">Run history</Heading>
      <form class="filters" onSubmit={onFilter} aria-label="Filter runs">
        <div class="field">
          <label for="filter-experiment">Experiment</label>
          <select id="filter-experiment" name="experiment" value={experiment} key={experiment}>
            {(experiments.data?.value ?? []).length === 0 && <option value="">No experiments yet</option>}
            {(experiments.data?.value ?? []).map((e) => (
              <option key={e.experimentId} value={e.name}>
                {e.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-status">Status</label>
          <select id="filter-status" name="status" value={status}>
            <option value="">Any status</option>
            {STATUSES.map((word) => (
              <option key={word} value={word}>
                {STATUS_NAMES[word]}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="filter-since">Submitted</label>
          <select id="filter-since" name="since" value={since}>
            {SINCE.map(([key, name]) => (
              <option key={key} value={key}>
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
              Pipeline <code>{shortId(pipeline)}</code>{" "}
              <button type="button" class="button small" onClick={() => go({ pipeline: null })} aria-label="Show runs of every pipeline">
                Remove
              </button>
            </span>
          )}
          {endpoint && (
            <span class="chip">
              Endpoint <code>{shortId(endpoint)}</code>{" "}
              <button type="button" class="button small" onClick={() => go({ endpoint: null })} aria-label="Show runs of every endpoint">
                Remove
              </button>
            </span>
          )}
        </p>
      )}
      {(chosen.loading || runs.loading) && !runs.data && <Loading what="runs" />}
      {!!(chosen.error || runs.error) && <ErrorBox error={chosen.error || runs.error} retry={runs.reload} />}
      {chosen.data === "" && <Empty>No runs yet: nothing has been submitted in this workspace.</Empty>}
      {runs.data && runs.data.value.length === 0 && <Empty>No runs match these filters in the experiment {experiment}.</Empty>}
      {runs.data && runs.data.value.length > 0 && <RunTable runs={runs.data.value} />}
      {runs.data && (page || runs.data.continuationToken) && (
        <nav class="pager" aria-label="Pages of runs">
          {page && (
            <Link href={pageUrl(previous[previous.length - 1] || null, previous.slice(0, -1))} class="button">
              Newer runs
            </Link>
          )}
          {runs.data.continuationToken && (
            <Link href={pageUrl(runs.data.continuationToken, [...previous, page])} class="button">
              Older runs
            </Link>
          )}
        </nav>
      )}
    </>
  );
}

function RunTable({ runs }: { runs: RunDto[] }) {
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
              <td>{run.displayName ?? run.name ?? "—"}</td>
              <td>{time(run.createdUtc)}</td>
              <td>{duration(run.startTimeUtc, run.endTimeUtc)}</td>
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
