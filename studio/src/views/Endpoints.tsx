// Endpoints and pipelines: what a team can run, and how each one last ran.

import { useEffect, useState } from "preact/hooks";
import type { Endpoint, PipelineRun } from "../api";
import { runWord, time } from "../format";
import { link } from "../router";
import { CopyButton, Empty, EntityBadge, ErrorBox, Heading, Link, Loading, Section, StatusBadge, TableWrap, useLoad, useStudio } from "./common";

export function Endpoints({ showAll }: { showAll: boolean }) {
  const { api, workspace } = useStudio();
  const endpoints = useLoad(() => api.endpoints(!showAll), [showAll]);
  const pipelines = useLoad(() => api.pipelines(!showAll), [showAll]);
  const ids = new Set<string>((pipelines.data?.items ?? []).map((p) => p.Id));
  for (const endpoint of endpoints.data?.items ?? []) endpoint.PipelineVersionList.forEach((v) => ids.add(v.PipelineId));
  const lastRuns = useLastRuns([...ids]);

  const toggle = (event: Event) => {
    const checked = (event.currentTarget as HTMLInputElement).checked;
    history.replaceState(null, "", link("endpoints", { ws: workspace }, { all: checked ? "1" : null }));
    window.dispatchEvent(new Event("studio:navigate"));
  };

  return (
    <>
      <Heading title="Endpoints and pipelines">Endpoints and pipelines</Heading>
      <p class="lead">
        Workspace <strong>{workspace}</strong>.{" "}
        <label class="inline">
          <input type="checkbox" checked={showAll} onChange={toggle} /> Show disabled and deprecated ones
        </label>
      </p>
      <Section title="Pipeline endpoints">
        {endpoints.loading && !endpoints.data && <Loading what="endpoints" />}
        {!!endpoints.error && <ErrorBox error={endpoints.error} retry={endpoints.reload} />}
        {endpoints.data && endpoints.data.items.length === 0 && (
          <Empty>
            No pipeline endpoints yet. Publish one with{" "}
            <code>python -m pipelines publish FOLDER --name NAME --endpoint ENDPOINT</code>.
          </Empty>
        )}
        {endpoints.data && endpoints.data.items.length > 0 && (
          <TableWrap label="Pipeline endpoints">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Status</th>
                  <th scope="col">Default version</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Submit URL</th>
                </tr>
              </thead>
              <tbody>
                {endpoints.data.items.map((endpoint) => (
                  <EndpointRow key={endpoint.Id} endpoint={endpoint} lastRuns={lastRuns} />
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </Section>
      <Section title="Published pipelines">
        {pipelines.loading && !pipelines.data && <Loading what="pipelines" />}
        {!!pipelines.error && <ErrorBox error={pipelines.error} retry={pipelines.reload} />}
        {pipelines.data && pipelines.data.items.length === 0 && <Empty>No published pipelines{showAll ? "" : " that are active"}.</Empty>}
        {pipelines.data && pipelines.data.items.length > 0 && (
          <TableWrap label="Published pipelines">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Version</th>
                  <th scope="col">Status</th>
                  <th scope="col">Steps</th>
                  <th scope="col">Last run</th>
                  <th scope="col">Published</th>
                </tr>
              </thead>
              <tbody>
                {pipelines.data.items.map((pipeline) => (
                  <tr key={pipeline.Id}>
                    <td>
                      <Link href={link("pipeline", { ws: workspace, id: pipeline.Id })}>{pipeline.Name ?? pipeline.Id}</Link>
                    </td>
                    <td>{pipeline.Version ?? "—"}</td>
                    <td>
                      <EntityBadge status={pipeline.EntityStatus} />
                    </td>
                    <td>{pipeline.TotalRunSteps}</td>
                    <td>
                      <LastRun run={lastRuns[pipeline.Id]} />
                    </td>
                    <td>{time(pipeline.CreatedDate)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </TableWrap>
        )}
      </Section>
    </>
  );
}

function EndpointRow({ endpoint, lastRuns }: { endpoint: Endpoint; lastRuns: Record<string, PipelineRun | null> }) {
  const { workspace } = useStudio();
  // The endpoint's last run: the newest last run of the pipelines behind it.
  const runs = endpoint.PipelineVersionList.map((v) => lastRuns[v.PipelineId]).filter((r): r is PipelineRun => !!r);
  const newest = runs.sort((a, b) => (b.CreatedDate ?? "").localeCompare(a.CreatedDate ?? ""))[0];
  const pending = endpoint.PipelineVersionList.some((v) => !(v.PipelineId in lastRuns));
  return (
    <tr>
      <td>
        <Link href={link("endpoint", { ws: workspace, name: endpoint.Name })}>{endpoint.Name}</Link>
      </td>
      <td>
        <EntityBadge status={endpoint.EntityStatus} />
      </td>
      <td>
        {endpoint.DefaultVersion} <span class="muted">of {endpoint.PipelineVersionList.length}</span>
      </td>
      <td>{pending && !newest ? <span class="muted">…</span> : <LastRun run={newest ?? null} />}</td>
      <td>
        <CopyButton text={endpoint.Url} what={`the submit URL of ${endpoint.Name}`} />
      </td>
    </tr>
  );
}

export function LastRun({ run }: { run: PipelineRun | null | undefined }) {
  const { workspace } = useStudio();
  if (run === undefined) return <span class="muted">…</span>;
  if (run === null) return <span class="muted">Never run</span>;
  return (
    <span class="last-run">
      <StatusBadge word={runWord(run.Status.StatusCode)} />{" "}
      <Link href={link("run", { ws: workspace, runId: run.Id })}>{time(run.CreatedDate)}</Link>
    </span>
  );
}

/** The newest run of each pipeline (one request each, a few at a time). */
export function useLastRuns(pipelineIds: string[]): Record<string, PipelineRun | null> {
  const { api } = useStudio();
  const [found, setFound] = useState<Record<string, PipelineRun | null>>({});
  const ids = [...pipelineIds].sort().join(",");
  useEffect(() => {
    let stopped = false;
    const queue = ids ? ids.split(",") : [];
    const worker = async () => {
      for (let id = queue.shift(); id && !stopped; id = queue.shift()) {
        const current = id;
        try {
          const page = await api.runsOfPipeline(current, 1);
          if (!stopped) setFound((f) => ({ ...f, [current]: page.items[0] ?? null }));
        } catch {
          if (!stopped) setFound((f) => ({ ...f, [current]: null }));
        }
      }
    };
    void Promise.all([worker(), worker(), worker()]);
    return () => {
      stopped = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [ids]);
  return found;
}
