// One published pipeline, and one pipeline endpoint: status, versions, last runs, the
// submit URL and calls to copy; the actions the user's roles allow.

import { useState } from "preact/hooks";
import type { Pipeline as PipelineEntity, PipelineRun } from "../api";
import { runWord, shortId, time } from "../format";
import type { Param } from "../params";
import { parametersOf } from "../params";
import { link } from "../router";
import type { Language } from "../snippets";
import { LANGUAGES, exampleBody, snippet } from "../snippets";
import { LastRun, useLastRuns } from "./Endpoints";
import {
  ActionError,
  CopyButton,
  Empty,
  EntityBadge,
  ErrorBox,
  Heading,
  Link,
  Loading,
  Section,
  StatusBadge,
  TableWrap,
  useLoad,
  useStudio,
} from "./common";

// -- a published pipeline ---------------------------------------------------------------------------------
export function PipelinePage({ id }: { id: string }) {
  const { api, workspace, can } = useStudio();
  const pipeline = useLoad(() => api.pipeline(id), [id]);
  const runs = useLoad(() => api.runsOfPipeline(id, 10), [id]);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);

  if (pipeline.loading && !pipeline.data) return <Loading what="the pipeline" />;
  if (pipeline.error || !pipeline.data) return <ErrorBox error={pipeline.error} retry={pipeline.reload} />;
  const entity = pipeline.data;
  const params = parametersOf(entity);
  const active = entity.EntityStatus !== 2;

  const setStatus = async (status: "Active" | "Disabled") => {
    setBusy(true);
    setActionError(null);
    try {
      pipeline.set(await api.setPipelineStatus(entity.Id, status));
    } catch (error) {
      setActionError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <Heading title={entity.Name ?? entity.Id}>
        {entity.Name ?? entity.Id} <span class="subtle">version {entity.Version ?? "—"}</span>
      </Heading>
      <div class="toolbar" role="group" aria-label="Actions">
        <EntityBadge status={entity.EntityStatus} />
        {can("submit") && active && (
          <Link class="button primary" href={link("pipelineRun", { ws: workspace, id: entity.Id })}>
            Run this pipeline
          </Link>
        )}
        {can("publish") &&
          (active ? (
            <button type="button" class="button danger" disabled={busy} onClick={() => setStatus("Disabled")}>
              Disable pipeline
            </button>
          ) : (
            <button type="button" class="button" disabled={busy} onClick={() => setStatus("Active")}>
              Enable pipeline
            </button>
          ))}
        <Link class="button" href={link("runs", { ws: workspace }, { pipeline: entity.Id })}>
          Run history
        </Link>
      </div>
      {!active && <p class="notice">This pipeline is disabled: the service refuses runs of it until it is enabled again.</p>}
      <ActionError error={actionError} />
      {entity.Description && <p class="lead">{entity.Description}</p>}
      <dl class="facts">
        <dt>Id</dt>
        <dd>
          <code>{entity.Id}</code>
        </dd>
        <dt>Steps</dt>
        <dd>{entity.TotalRunSteps}</dd>
        <dt>Published</dt>
        <dd>{time(entity.CreatedDate)}</dd>
        <dt>On a step's failure</dt>
        <dd>{entity.ContinueRunOnStepFailure ? "independent steps go on" : "the run stops"}</dd>
      </dl>
      <Parameters params={params} />
      <SubmitUrl url={entity.Url} what={entity.Name ?? entity.Id} />
      <Calls url={entity.Url} experiment={entity.Name ?? "experiment"} params={params} />
      <Section title="Recent runs">
        <RunsTable runs={runs.data?.items} error={runs.error} retry={runs.reload} />
      </Section>
    </>
  );
}

// -- a pipeline endpoint -------------------------------------------------------------------------------------
export function EndpointPage({ name }: { name: string }) {
  const { api, workspace, can } = useStudio();
  const endpoint = useLoad(() => api.endpointByName(name), [name]);
  const defaultId = endpoint.data?.PipelineVersionList.find((v) => v.Version === endpoint.data?.DefaultVersion)?.PipelineId;
  const pipelines = useLoad(
    async () => {
      if (!endpoint.data) return {} as Record<string, PipelineEntity | null>;
      const found: Record<string, PipelineEntity | null> = {};
      await Promise.all(
        endpoint.data.PipelineVersionList.map(async (v) => {
          found[v.PipelineId] = await api.pipeline(v.PipelineId).catch(() => null);
        }),
      );
      return found;
    },
    [endpoint.data?.Etag, endpoint.data?.Id],
  );
  const lastRuns = useLastRuns(endpoint.data?.PipelineVersionList.map((v) => v.PipelineId) ?? []);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<unknown>(null);

  if (endpoint.loading && !endpoint.data) return <Loading what="the endpoint" />;
  if (endpoint.error || !endpoint.data) return <ErrorBox error={endpoint.error} retry={endpoint.reload} />;
  const entity = endpoint.data;
  const active = entity.EntityStatus !== 2;
  const defaultPipeline = defaultId ? pipelines.data?.[defaultId] : undefined;
  const runnable = active && !!defaultPipeline && defaultPipeline.EntityStatus !== 2;

  const update = async (change: Record<string, unknown>) => {
    setBusy(true);
    setActionError(null);
    try {
      endpoint.set(await api.updateEndpoint(entity.Id, { ...change, Etag: entity.Etag }));
    } catch (error) {
      setActionError(error);
      endpoint.reload();
    } finally {
      setBusy(false);
    }
  };
  const byName = entity.Url.replace(/\/PipelineEndpointSubmit\/Id\/[^/?]+$/, `/PipelineEndpointSubmit/Name?name=${encodeURIComponent(entity.Name)}`);
  const params = defaultPipeline ? parametersOf(defaultPipeline) : [];

  return (
    <>
      <Heading title={entity.Name}>
        {entity.Name} <span class="subtle">pipeline endpoint</span>
      </Heading>
      <div class="toolbar" role="group" aria-label="Actions">
        <EntityBadge status={entity.EntityStatus} />
        {can("submit") && runnable && (
          <Link class="button primary" href={link("endpointRun", { ws: workspace, name: entity.Name })}>
            Run this endpoint
          </Link>
        )}
        {can("publish") &&
          (active ? (
            <button type="button" class="button danger" disabled={busy} onClick={() => update({ EntityStatus: "Disabled" })}>
              Disable endpoint
            </button>
          ) : (
            <button type="button" class="button" disabled={busy} onClick={() => update({ EntityStatus: "Active" })}>
              Enable endpoint
            </button>
          ))}
        <Link class="button" href={link("runs", { ws: workspace }, { endpoint: entity.Id })}>
          Run history
        </Link>
      </div>
      {!active && <p class="notice">This endpoint is disabled: the service refuses runs through it until it is enabled again.</p>}
      {active && defaultPipeline && defaultPipeline.EntityStatus === 2 && (
        <p class="notice">The default version's pipeline is disabled: runs of the default version are refused.</p>
      )}
      <ActionError error={actionError} />
      {entity.Description && <p class="lead">{entity.Description}</p>}
      <Section title="Versions">
        {pipelines.loading && !pipelines.data && <Loading what="the versions" />}
        <TableWrap label="Versions">
          <table>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Pipeline</th>
                <th scope="col">Status</th>
                <th scope="col">Last run</th>
                {can("publish") && <th scope="col">Default</th>}
              </tr>
            </thead>
            <tbody>
              {entity.PipelineVersionList.map((version) => {
                const pipeline = pipelines.data?.[version.PipelineId];
                const isDefault = version.Version === entity.DefaultVersion;
                return (
                  <tr key={version.Version} class={isDefault ? "is-default" : ""}>
                    <td>
                      {version.Version} {isDefault && <span class="badge default">Default</span>}
                    </td>
                    <td>
                      <Link href={link("pipeline", { ws: workspace, id: version.PipelineId })}>
                        {pipeline ? `${pipeline.Name ?? ""} ${pipeline.Version ?? ""}`.trim() : shortId(version.PipelineId)}
                      </Link>
                    </td>
                    <td>{pipeline ? <EntityBadge status={pipeline.EntityStatus} /> : "—"}</td>
                    <td>
                      <LastRun run={lastRuns[version.PipelineId]} />
                    </td>
                    {can("publish") && (
                      <td>
                        {isDefault ? (
                          <span class="muted">Default</span>
                        ) : (
                          <button
                            type="button"
                            class="button small"
                            disabled={busy}
                            onClick={() => update({ DefaultVersion: version.Version })}
                          >
                            Make version {version.Version} the default
                          </button>
                        )}
                      </td>
                    )}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </TableWrap>
      </Section>
      {defaultPipeline ? (
        <Parameters params={params} caption="Parameters of the default version" />
      ) : (
        pipelines.loading && <Loading what="the parameters" />
      )}
      <SubmitUrl url={entity.Url} what={entity.Name} alternative={byName} />
      {defaultPipeline && <Calls url={entity.Url} experiment={defaultPipeline.Name ?? entity.Name} params={params} />}
    </>
  );
}

// -- shared parts ---------------------------------------------------------------------------------------------
function Parameters({ params, caption = "Parameters" }: { params: Param[]; caption?: string }) {
  return (
    <Section title={caption} id="parameters">
      {params.length === 0 ? (
        <Empty>This pipeline takes no parameters.</Empty>
      ) : (
        <TableWrap label={caption}>
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Type</th>
                <th scope="col">Default</th>
              </tr>
            </thead>
            <tbody>
              {params.map((param) => (
                <tr key={param.name}>
                  <td>
                    <code>{param.name}</code>
                  </td>
                  <td>
                    {param.type}
                    {param.inferred && <span class="muted"> (from the default)</span>}
                  </td>
                  <td>
                    <code>{param.defaultText}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
    </Section>
  );
}

function SubmitUrl({ url, what, alternative }: { url: string; what: string; alternative?: string }) {
  return (
    <Section title="Submit URL">
      <p class="url-line">
        <code class="url" id="submit-url">
          POST {url}
        </code>{" "}
        <CopyButton text={url} what={`the submit URL of ${what}`} />
      </p>
      {alternative && (
        <p class="url-line">
          <span class="muted">By name: </span>
          <code class="url">POST {alternative}</code> <CopyButton text={alternative} what={`the submit URL by name of ${what}`} />
        </p>
      )}
    </Section>
  );
}

function Calls({ url, experiment, params }: { url: string; experiment: string; params: Param[] }) {
  const [language, setLanguage] = useState<Language>("curl");
  const code = snippet(language, url, exampleBody(experiment, params));
  const choose = (event: KeyboardEvent, index: number) => {
    const next = event.key === "ArrowRight" ? index + 1 : event.key === "ArrowLeft" ? index - 1 : null;
    if (next === null) return;
    const target = LANGUAGES[(next + LANGUAGES.length) % LANGUAGES.length];
    setLanguage(target.id);
    document.getElementById(`tab-${target.id}`)?.focus();
  };
  return (
    <Section title="Call it">
      <p class="muted">
        With a token in the environment variable <code>TOKEN</code> (see docs/deploy.md). The body holds every parameter at its
        default.
      </p>
      <div role="tablist" aria-label="Language" class="tabs">
        {LANGUAGES.map((item, index) => (
          <button
            key={item.id}
            id={`tab-${item.id}`}
            type="button"
            role="tab"
            aria-selected={language === item.id}
            aria-controls="call-panel"
            tabIndex={language === item.id ? 0 : -1}
            class="tab"
            onClick={() => setLanguage(item.id)}
            onKeyDown={(event) => choose(event, index)}
          >
            {item.name}
          </button>
        ))}
      </div>
      <div id="call-panel" role="tabpanel" aria-labelledby={`tab-${language}`} class="call-panel">
        <pre class="code" tabIndex={0} aria-label={`The call in ${language}`}>
          <code>{code}</code>
        </pre>
        <CopyButton text={code} what={`the ${LANGUAGES.find((l) => l.id === language)?.name} call`} />
      </div>
    </Section>
  );
}

export function RunsTable({ runs, error, retry }: { runs: PipelineRun[] | undefined; error: unknown; retry: () => void }) {
  const { workspace } = useStudio();
  if (error) return <ErrorBox error={error} retry={retry} />;
  if (!runs) return <Loading what="runs" />;
  if (runs.length === 0) return <Empty>No runs yet.</Empty>;
  return (
    <TableWrap label="Recent runs">
      <table>
        <thead>
          <tr>
            <th scope="col">Run</th>
            <th scope="col">Status</th>
            <th scope="col">Experiment</th>
            <th scope="col">Submitted</th>
            <th scope="col">Source</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.Id}>
              <td>
                <Link href={link("run", { ws: workspace, runId: run.Id })}>{shortId(run.Id)}</Link>
              </td>
              <td>
                <StatusBadge word={runWord(run.Status.StatusCode)} />
              </td>
              <td>{run.RunHistoryExperimentName ?? "—"}</td>
              <td>{time(run.CreatedDate)}</td>
              <td>{run.RunSource ?? "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </TableWrap>
  );
}
