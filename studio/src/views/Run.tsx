// One run: its graph coloured by status and updated live, the step times, a step's log,
// metrics and outputs, the parameters and data it resolved, and cancel.
//
// While the run is active the page asks the API at most once a second, taking turns
// between the step statuses, the run itself (when its steps have all ended) and the
// open log (poll.ts); once the run has ended and its last state was read, it asks
// nothing more.

import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import type { AttemptStatus, NodeOutput, OutputListing, PipelineRun, RunDto, TaskStatus } from "../api";
import { ApiError } from "../api";
import { bytes, duration, logTail, runWord, shortId, stepWord, time, tone } from "../format";
import { inferParents } from "../graph";
import { describeData } from "../params";
import type { PollJob } from "../poll";
import { pollLoop } from "../poll";
import { link, navigate } from "../router";
import { ActionError, Empty, ErrorBox, Heading, Link, Loading, Section, StatusBadge, TableWrap, useLoad, useStudio } from "./common";
import type { StepView } from "./Graph";
import { StepGraph, Timeline } from "./Graph";
import { MetricChart } from "./MetricChart";

const POLL_INTERVAL = 1000;
const LOG_KINDS = ["STDOUT", "STDERR", "JobLog"];
const LOG_TAIL = 256 * 1024;
const LOG_RETRY_MAX = 30_000;
// Errors that asking again will not mend.
const FINAL_ERRORS = ["expired", "unauthorized", "forbidden", "notfound", "bad"];

const RUN_ENDED = new Set([2, 3, 4]);
const STEP_ENDED = new Set([3, 4, 5, 6, 7]);
const stepEnded = (step: TaskStatus | undefined) => !!step && STEP_ENDED.has(step.StatusCode);

export function RunPage({ runId, query }: { runId: string; query: URLSearchParams }) {
  const { api, workspace, can } = useStudio();
  const selected = query.get("step");
  const tab = query.get("tab") ?? "log";
  const logKind = LOG_KINDS.includes(query.get("log") ?? "") ? (query.get("log") as string) : "STDOUT";
  const attempt = /^[1-9][0-9]{0,5}$/.test(query.get("attempt") ?? "") ? Number(query.get("attempt")) : null;

  const [run, setRun] = useState<PipelineRun | null>(null);
  const [steps, setSteps] = useState<Record<string, TaskStatus> | null>(null);
  const [who, setWho] = useState<RunDto | null>(null);
  const [failure, setFailure] = useState<unknown>(null);
  const [liveError, setLiveError] = useState<unknown>(null);
  const [log, setLog] = useState<{ key: string; text: string; error: unknown } | null>(null);
  const [cancelError, setCancelError] = useState<unknown>(null);
  const [cancelBusy, setCancelBusy] = useState(false);
  const [cancelAsked, setCancelAsked] = useState(false);
  const [rerunError, setRerunError] = useState<unknown>(null);
  const [rerunBusy, setRerunBusy] = useState(false);
  const [now, setNow] = useState(Date.now());

  // What the poll loop reads between requests (refs: it outlives renders).
  const fresh = () => ({ runEnded: false, stepsFinal: false, allStepsEnded: false, sinceRun: 0, logFinal: true, logFailures: 0, logRetryAt: 0 });
  const live = useRef(fresh());
  const stepsRef = useRef<Record<string, TaskStatus>>({});
  const logKey = selected ? `${selected}|${logKind}|${attempt ?? ""}` : "";
  const logKeyRef = useRef(logKey);
  logKeyRef.current = logKey;
  const showingLog = tab === "log" && !!selected;
  const showingLogRef = useRef(showingLog);
  showingLogRef.current = showingLog;

  const fetchLog = async (key: string) => {
    const [node, kind, which] = key.split("|");
    const step = stepsRef.current[node];
    const earlier = !!which && Number(which) < (step?.Attempt ?? 1); // an earlier attempt's log is done growing
    const endedBefore = stepEnded(step) || earlier;
    const state = live.current;
    try {
      const text = await api.log(runId, node, kind, which ? Number(which) : null);
      if (logKeyRef.current === key) {
        setLog({ key, text, error: null });
        state.logFinal = endedBefore;
        state.logFailures = 0;
      }
    } catch (error) {
      if (logKeyRef.current !== key) return;
      // Keep what was read; while the step runs, ask again later (1 s, 2 s, 4 s... at most 30 s).
      setLog((previous) => ({ key, text: previous?.key === key ? previous.text : "", error }));
      state.logFinal = endedBefore || (error instanceof ApiError && FINAL_ERRORS.includes(error.kind));
      state.logFailures += 1;
      state.logRetryAt = Date.now() + Math.min(LOG_RETRY_MAX, 1000 * 2 ** (state.logFailures - 1));
    }
  };
  const retryLog = () => {
    live.current.logFailures = 0;
    void fetchLog(logKeyRef.current);
  };

  // First load, then the poll loop until the run has ended.
  useEffect(() => {
    const controller = new AbortController();
    live.current = fresh();
    setRun(null);
    setSteps(null);
    setFailure(null);
    const acceptSteps = (next: Record<string, TaskStatus>) => {
      stepsRef.current = next;
      live.current.allStepsEnded = Object.values(next).every(stepEnded);
      setSteps(next);
      setNow(Date.now());
    };
    (async () => {
      try {
        const first = await api.run(runId);
        if (controller.signal.aborted) return;
        setRun(first);
        live.current.runEnded = RUN_ENDED.has(first.Status.StatusCode);
        const [statuses, history] = await Promise.all([api.steps(runId), api.historyRun(runId).catch(() => null)]);
        if (controller.signal.aborted) return;
        acceptSteps(statuses);
        setWho(history);
        live.current.stepsFinal = live.current.runEnded;
      } catch (error) {
        setFailure(error);
        return;
      }
      const jobs = (): PollJob[] => {
        const state = live.current;
        const list: PollJob[] = [];
        if (!state.runEnded || !state.stepsFinal) {
          list.push({
            name: "steps",
            run: async () => {
              const finalRead = state.runEnded;
              try {
                acceptSteps(await api.steps(runId));
                state.sinceRun += 1;
                if (finalRead) state.stepsFinal = true;
                setLiveError(null);
              } catch (error) {
                setLiveError(error);
                if (error instanceof ApiError && ["expired", "unauthorized", "forbidden", "notfound"].includes(error.kind)) {
                  state.runEnded = state.stepsFinal = true; // nothing more to learn by asking again
                }
              }
            },
          });
        }
        if (!state.runEnded && (state.allStepsEnded || state.sinceRun >= 10)) {
          list.push({
            name: "run",
            run: async () => {
              state.sinceRun = 0;
              const next = await api.run(runId);
              setRun(next);
              if (RUN_ENDED.has(next.Status.StatusCode)) state.runEnded = true;
            },
          });
        }
        if (showingLogRef.current && logKeyRef.current && !state.logFinal && Date.now() >= state.logRetryAt) {
          const key = logKeyRef.current;
          list.push({ name: "log", run: () => fetchLog(key) });
        }
        return list;
      };
      await pollLoop({ jobs, interval: POLL_INTERVAL, signal: controller.signal, since: Date.now() });
    })();
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [runId]);

  // The open log: read at once when chosen, then by the poll loop while its step runs.
  useEffect(() => {
    if (!showingLog || !logKey || !steps) return;
    live.current.logFinal = true; // until this read says otherwise
    live.current.logFailures = 0;
    live.current.logRetryAt = 0;
    void fetchLog(logKey);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [logKey, showingLog, steps === null]);

  // A running step's duration moves on between reads.
  useEffect(() => {
    if (!run || RUN_ENDED.has(run.Status.StatusCode)) return;
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, [run?.Status.StatusCode]);

  const parents = useParents(steps, run?.GraphId ?? null);
  const views: StepView[] = useMemo(
    () =>
      Object.entries(steps ?? {}).map(([id, status]) => ({
        id,
        name: status.Name ?? id,
        status,
        word: stepWord(status.StatusCode, status.Status),
        parents: status.Parents ?? parents.data?.[id] ?? [],
      })),
    [steps, parents.data],
  );

  if (failure) return <ErrorBox error={failure} />;
  if (!run || !steps) return <Loading what="the run" />;

  const active = !RUN_ENDED.has(run.Status.StatusCode);
  // A run being canceled reads CancelRequested (as run history words it) until its steps have stopped.
  const canceling = active && (cancelAsked || views.some((s) => s.status.Status === "CancelRequested"));
  const runWordShown = canceling ? "CancelRequested" : runWord(run.Status.StatusCode);
  const choose = (change: Record<string, string | null>) =>
    navigate(
      link("run", { ws: workspace, runId }, { step: selected, tab: tab === "log" ? null : tab, log: logKind === "STDOUT" ? null : logKind, attempt: attempt ? String(attempt) : null, ...change }),
      true,
    );
  const cancel = async () => {
    setCancelBusy(true);
    setCancelError(null);
    try {
      setRun(await api.cancel(runId));
      setCancelAsked(true);
      live.current.sinceRun = 10; // read the run again soon
    } catch (error) {
      setCancelError(error);
    } finally {
      setCancelBusy(false);
    }
  };
  const rerun = async () => {
    setRerunBusy(true);
    setRerunError(null);
    try {
      const next = await api.rerun(runId);
      navigate(link("run", { ws: workspace, runId: next.Id }));
    } catch (error) {
      setRerunError(error);
    } finally {
      setRerunBusy(false);
    }
  };
  const failed = views.filter((s) => tone(s.word) === "failed");
  const title = `Run ${who?.runNumber ?? shortId(run.Id)}`;

  return (
    <>
      <Heading title={title}>
        {title} <span class="subtle">{run.Description ?? ""}</span>
      </Heading>
      <div class="toolbar" role="group" aria-label="Run">
        <StatusBadge word={runWordShown} />
        <span class="muted live" aria-live="polite">
          {active ? "Updating live" : `Ended ${time(run.Status.EndTime)}`}
        </span>
        {can("submit") && active && runWordShown !== "CancelRequested" && (
          <button type="button" class="button danger" disabled={cancelBusy} onClick={cancel}>
            Cancel run
          </button>
        )}
        {can("submit") && (run.Status.StatusCode === 2 || run.Status.StatusCode === 4) && (
          <button type="button" class="button" disabled={rerunBusy} onClick={rerun} title="A new run with the same parameters; steps that finished are reused">
            {rerunBusy ? "Starting the rerun…" : "Rerun"}
          </button>
        )}
      </div>
      <ActionError error={cancelError} />
      <ActionError error={rerunError} />
      {!!liveError && <ErrorBox error={liveError} />}
      {run.Status.StatusCode === 2 && (
        <div class="why" role="alert">
          <p>
            <strong>The run failed.</strong> {run.Status.StatusDetail ?? ""}
          </p>
          {failed.length > 0 && (
            <ul>
              {failed.map((s) => (
                <li key={s.id}>
                  <Link href={link("run", { ws: workspace, runId }, { step: s.id, log: "STDERR" })}>{s.name}</Link>:{" "}
                  {s.status.StatusDetail ?? "failed"}
                  {s.status.ExitCode !== null && s.status.ExitCode !== undefined ? ` (exit code ${s.status.ExitCode})` : ""}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <dl class="facts">
        <dt>Experiment</dt>
        <dd>
          <Link href={link("runs", { ws: workspace }, { experiment: run.RunHistoryExperimentName })}>{run.RunHistoryExperimentName ?? "—"}</Link>
        </dd>
        <dt>Pipeline</dt>
        <dd>
          <Link href={link("pipeline", { ws: workspace, id: run.PipelineId })}>{shortId(run.PipelineId)}</Link>
          {run.PipelineVersion ? ` (endpoint version ${run.PipelineVersion})` : ""}
        </dd>
        <dt>Submitted by</dt>
        <dd>
          {run.RunSource ?? "API"}
          {who?.createdBy?.userName ? `, as ${who.createdBy.userName}` : ""}
          <StartedBy run={run} workspace={workspace} />
        </dd>
        <dt>Submitted</dt>
        <dd>{time(run.CreatedDate)}</dd>
        <dt>Duration</dt>
        <dd>{duration(run.StartTime ?? run.Status.CreationTime, run.Status.EndTime, now)}</dd>
        <dt>Run id</dt>
        <dd>
          <code>{run.Id}</code>
        </dd>
      </dl>
      <Section title="Steps">
        {parents.loading && !parents.data && <Loading what="how the steps connect" />}
        {!!parents.error && <p class="muted">How the steps connect could not be read; they are shown unconnected.</p>}
        <StepGraph steps={views} selected={selected} onSelect={(id) => choose({ step: id })} />
      </Section>
      {selected && steps[selected] && (
        <StepPanel runId={runId} workspace={workspace} step={views.find((s) => s.id === selected)!} tab={tab} logKind={logKind} log={log?.key === logKey ? log : null} attempt={attempt} retryLog={retryLog} choose={choose} now={now} />
      )}
      {selected && !steps[selected] && <p class="notice">This run has no step {selected}.</p>}
      <Section title="Timeline">
        <Timeline steps={views} now={now} />
      </Section>
      <RunInputs run={run} />
    </>
  );
}

/** Which steps each step waits for: from the statuses when they say, else from what steps read and write. */
function useParents(steps: Record<string, TaskStatus> | null, graphId: string | null) {
  const { api } = useStudio();
  const ready = !!steps && !!graphId;
  const named = !!steps && Object.values(steps).some((s) => Array.isArray(s.Parents));
  return useLoad(async () => {
    if (!ready || named || !steps || !graphId) return null;
    const key = `studio.graph.${graphId}`;
    const cached = sessionStorage.getItem(key);
    if (cached) return JSON.parse(cached) as Record<string, string[]>;
    const queue = Object.entries(steps).filter(([, s]) => s.RunId);
    const io: Record<string, { inputs: string[]; outputs: string[] }> = {};
    const worker = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [id, status] = next;
        const details = await api.runDetails(status.RunId as string);
        io[id] = { inputs: details.runDefinition.inputs ?? [], outputs: details.runDefinition.outputs ?? [] };
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const found = inferParents(io);
    sessionStorage.setItem(key, JSON.stringify(found));
    return found;
  }, [ready, named, graphId]);
}

type StepPanelProps = {
  runId: string;
  workspace: string;
  step: StepView;
  tab: string;
  logKind: string;
  log: { text: string; error: unknown } | null;
  attempt: number | null;
  retryLog: () => void;
  choose: (change: Record<string, string | null>) => void;
  now: number;
};

function StepPanel(props: StepPanelProps) {
  const { step, tab, choose } = props;
  const close = () => {
    // Back to the step's button in the graph, so the keyboard goes on from there: at once, before
    // the panel that holds the focus goes (the focus is never left on nothing), and again after the
    // next paint if the graph redrew the button meanwhile.
    const node = () => document.querySelector<HTMLElement>(`button.node[data-step="${CSS.escape(step.id)}"]`);
    node()?.focus();
    choose({ step: null, tab: null, log: null, attempt: null });
    requestAnimationFrame(() => {
      if (document.activeElement !== node()) node()?.focus();
    });
  };
  // Escape closes the panel (unless a field or list box is using it).
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.key !== "Escape" || event.defaultPrevented || target?.closest("input, select, textarea")) return;
      close();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  });
  const tabs: [string, string][] = [
    ["log", "Log"],
    ["metrics", "Metrics"],
    ["outputs", "Outputs"],
  ];
  const onKey = (event: KeyboardEvent, index: number) => {
    const next = event.key === "ArrowRight" ? index + 1 : event.key === "ArrowLeft" ? index - 1 : null;
    if (next === null) return;
    const [id] = tabs[(next + tabs.length) % tabs.length];
    choose({ tab: id === "log" ? null : id });
    requestAnimationFrame(() => document.getElementById(`step-tab-${id}`)?.focus());
  };
  const status = step.status;
  return (
    <section class="panel step-panel" aria-labelledby="step-title">
      <div class="panel-head">
        <h2 id="step-title">
          Step {step.name} <StatusBadge word={step.word} />
        </h2>
        <button type="button" class="button small" onClick={close} aria-keyshortcuts="Escape">
          Close step
        </button>
      </div>
      <dl class="facts">
        <dt>Started</dt>
        <dd>{time(status.StartTime)}</dd>
        <dt>Duration</dt>
        <dd>{duration(status.StartTime, status.EndTime, props.now)}</dd>
        <dt>Attempt</dt>
        <dd>{status.Attempt ?? 1}</dd>
        <dt>Exit code</dt>
        <dd>{status.ExitCode ?? "—"}</dd>
        {status.ReuseInfo && (
          <>
            <dt>Reused from</dt>
            <dd class="reused">
              <Link href={link("run", { ws: props.workspace, runId: status.ReuseInfo.PipelineRunId }, { step: status.ReuseInfo.NodeId })}>
                run {shortId(status.ReuseInfo.PipelineRunId)}
              </Link>{" "}
              (nothing ran: its outputs are that run's)
            </dd>
          </>
        )}
        {status.StatusDetail && (
          <>
            <dt>Detail</dt>
            <dd>{status.StatusDetail}</dd>
          </>
        )}
      </dl>
      <Attempts
        attempts={status.Attempts ?? []}
        logOf={(n) => link("run", { ws: props.workspace, runId: props.runId }, { step: step.id, log: props.logKind === "STDOUT" ? null : props.logKind, attempt: String(n) })}
      />
      <div role="tablist" aria-label="Step" class="tabs">
        {tabs.map(([id, name], index) => (
          <button
            key={id}
            id={`step-tab-${id}`}
            type="button"
            role="tab"
            class="tab"
            aria-selected={tab === id}
            aria-controls="step-tabpanel"
            tabIndex={tab === id ? 0 : -1}
            onClick={() => choose({ tab: id === "log" ? null : id })}
            onKeyDown={(event) => onKey(event, index)}
          >
            {name}
          </button>
        ))}
      </div>
      <div id="step-tabpanel" role="tabpanel" aria-labelledby={`step-tab-${tab}`} class="tabpanel">
        {tab === "log" && <LogView {...props} />}
        {tab === "metrics" && <Metrics step={step} />}
        {tab === "outputs" && <Outputs runId={props.runId} step={step} />}
      </div>
    </section>
  );
}

// Every execution of the step when there was more than one: how each ended, and why.
function Attempts({ attempts, logOf }: { attempts: AttemptStatus[]; logOf: (attempt: number) => string }) {
  if (attempts.length < 2 && !attempts.some((a) => a.Reason)) return null;
  return (
    <table class="attempts">
      <caption>Attempts</caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">Outcome</th>
          <th scope="col">Started</th>
          <th scope="col">Exit code</th>
          <th scope="col">Why</th>
          <th scope="col">Log</th>
        </tr>
      </thead>
      <tbody>
        {attempts.map((a) => (
          <tr key={a.Attempt}>
            <td>{a.Attempt}</td>
            <td>{a.Outcome}</td>
            <td>{time(a.StartTime)}</td>
            <td>{a.ExitCode ?? "—"}</td>
            <td>{[a.Reason, a.Detail].filter(Boolean).join(": ") || "—"}</td>
            <td>
              <Link href={logOf(a.Attempt)} aria-label={`Log of attempt ${a.Attempt}`}>
                Log
              </Link>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function LogView(props: Pick<StepPanelProps, "runId" | "step" | "logKind" | "log" | "attempt" | "retryLog" | "choose">) {
  const { step, logKind, log, attempt, choose } = props;
  const pre = useRef<HTMLPreElement>(null);
  const [follow, setFollow] = useState(true);
  const text = log?.text ?? "";
  const { shown, size, cut } = useMemo(() => logTail(text, LOG_TAIL), [text]);
  useEffect(() => {
    if (follow && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [shown, follow]);
  const running = !stepEnded(step.status);
  const fileName = `${step.name}-${logKind}${attempt ? `-attempt${attempt}` : ""}.txt`;
  return (
    <div class="log">
      <div class="log-tools">
        <label for="log-kind">Log</label>
        <select id="log-kind" value={logKind} onChange={(e) => choose({ log: (e.currentTarget as HTMLSelectElement).value === "STDOUT" ? null : (e.currentTarget as HTMLSelectElement).value })}>
          <option value="STDOUT">Standard output</option>
          <option value="STDERR">Standard error</option>
          <option value="JobLog">Job log (the worker's)</option>
        </select>
        <label class="inline">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow((e.currentTarget as HTMLInputElement).checked)} /> Follow the end
        </label>
        {text && <SaveLog runId={props.runId} nodeId={step.id} kind={logKind} attempt={attempt} name={fileName} />}
        {running && !attempt && <span class="muted">The log grows while the step runs.</span>}
      </div>
      {attempt && (
        <p class="notice">
          The log of attempt {attempt}.{" "}
          <button type="button" class="button small" onClick={() => choose({ attempt: null })}>
            Show the latest attempt
          </button>
        </p>
      )}
      {!log && <Loading what="the log" />}
      {log && !!log.error && (
        <ErrorBox error={log.error} retry={props.retryLog} />
      )}
      {log && !!log.error && running && <p class="muted">The page asks again while the step runs.</p>}
      {log && !log.error && !text && <Empty>{running ? "Nothing written yet." : "This log is empty."}</Empty>}
      {log && text && (
        <>
          {cut && <p class="muted">Showing the last {bytes(LOG_TAIL)} of {bytes(size)}: download the log to read all of it.</p>}
          <pre ref={pre} class="code log-text" tabIndex={0} aria-label={`${logKind} of step ${step.name}`}>
            {shown}
          </pre>
        </>
      )}
    </div>
  );
}

/** Hands the browser a file to save. */
function saveBlob(blob: Blob, name: string) {
  const href = URL.createObjectURL(blob);
  const anchor = document.createElement("a");
  anchor.href = href;
  anchor.download = name;
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(href), 60_000);
}

/** Saves the whole log as a file: read again in ranges, since the page holds at most the route's
 * last 8 MiB of a long one. */
function SaveLog({ runId, nodeId, kind, attempt, name }: { runId: string; nodeId: string; kind: string; attempt: number | null; name: string }) {
  const { api } = useStudio();
  const [state, setState] = useState<{ busy: boolean; error: unknown }>({ busy: false, error: null });
  const save = async () => {
    setState({ busy: true, error: null });
    try {
      saveBlob(await api.logFile(runId, nodeId, kind, attempt), name);
      setState({ busy: false, error: null });
    } catch (error) {
      setState({ busy: false, error });
    }
  };
  return (
    <>
      <button type="button" class="button small" onClick={save} disabled={state.busy}>
        {state.busy ? "Downloading the log…" : "Download the log"}
      </button>
      {!!state.error && <ActionError error={state.error} />}
    </>
  );
}

function Metrics({ step }: { step: StepView }) {
  const metrics = Object.entries(step.status.Metrics ?? {});
  if (metrics.length === 0) {
    return <Empty>{stepEnded(step.status) ? "This step logged no metrics." : "Metrics appear when the step has ended."}</Empty>;
  }
  const series = metrics.filter(([, v]) => Array.isArray(v) && v.length > 1 && v.every((x) => typeof x === "number")) as [string, number[]][];
  const show = (value: unknown) => (Array.isArray(value) ? value.map((v) => String(v)).join(", ") : typeof value === "object" ? JSON.stringify(value) : String(value));
  return (
    <>
      <TableWrap label="Metrics">
        <table>
          <thead>
            <tr>
              <th scope="col">Metric</th>
              <th scope="col">Value</th>
              <th scope="col">Logged</th>
            </tr>
          </thead>
          <tbody>
            {metrics.map(([name, value]) => (
              <tr key={name}>
                <td>
                  <code>{name}</code>
                </td>
                <td class="metric-value">{show(value)}</td>
                <td>{Array.isArray(value) ? `${value.length} times` : "once"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </TableWrap>
      {series.map(([name, values]) => (
        <MetricChart key={name} name={name} values={values} />
      ))}
    </>
  );
}

function Outputs({ runId, step }: { runId: string; step: StepView }) {
  const { api } = useStudio();
  const finished = step.status.StatusCode === 4;
  const outputs = useLoad(async () => {
    if (!finished) return null;
    const found = await api.outputs(runId, step.id);
    const listed: [string, NodeOutput, OutputListing][] = [];
    for (const [name, output] of Object.entries(found)) listed.push([name, output, await api.outputFiles(output.DataLocation.Uri)]);
    return listed;
  }, [runId, step.id, finished]);
  if (!finished) return <Empty>{stepEnded(step.status) ? "This step did not finish, so it wrote no outputs." : "Outputs appear when the step has finished."}</Empty>;
  if (outputs.loading && !outputs.data) return <Loading what="the outputs" />;
  if (outputs.error) return <ErrorBox error={outputs.error} retry={outputs.reload} />;
  if (!outputs.data || outputs.data.length === 0) return <Empty>This step declares no outputs.</Empty>;
  return (
    <>
      {outputs.data.map(([name, output, listing]) => (
        <div class="output" key={name}>
          <h3>
            {name} <span class="muted">{bytes(output.LogicalSizeInBytes)}</span>
          </h3>
          {listing.Files.length === 0 ? (
            <Empty>The step wrote no files here.</Empty>
          ) : (
            <ul class="files">
              {listing.Files.map((file) => (
                <li key={file.Path}>
                  <code>{file.Path}</code> <span class="muted">{bytes(file.Size)}</span> <DownloadButton url={file.Url} path={file.Path} size={file.Size} />
                </li>
              ))}
            </ul>
          )}
          {listing.ContinuationToken && <p class="muted">More files than shown: the CLI lists them all (python -m pipelines run download).</p>}
        </div>
      ))}
    </>
  );
}

function DownloadButton({ url, path, size }: { url: string; path: string; size: number }) {
  const { api } = useStudio();
  const [state, setState] = useState<{ busy: boolean; error: unknown; done: number }>({ busy: false, error: null, done: 0 });
  const name = path.split("/").pop() ?? "download";
  const start = async () => {
    setState({ busy: true, error: null, done: 0 });
    try {
      saveBlob(await api.download(url, size, (done) => setState((s) => ({ ...s, done }))), name);
      setState({ busy: false, error: null, done: size });
    } catch (error) {
      setState({ busy: false, error, done: 0 });
    }
  };
  return (
    <>
      <button type="button" class="button small" onClick={start} disabled={state.busy} aria-label={`Download ${path}`}>
        {state.busy ? `Downloading… ${size ? Math.round((state.done / size) * 100) : 0}%` : "Download"}
      </button>
      <ActionError error={state.error} />
    </>
  );
}

/** The schedule or event trigger that started the run (its `ScheduleId`), linked to the Automation view. */
function StartedBy({ run, workspace }: { run: PipelineRun; workspace: string }) {
  const kind = run.RunSource === "Schedule" ? "schedule" : run.RunSource === "EventGrid" ? "trigger" : null;
  if (!kind || !run.ScheduleId) return null;
  const href = `${link("automation", { ws: workspace })}#${kind}-${encodeURIComponent(run.ScheduleId)}`;
  return (
    <>
      {", started by the "}
      {kind === "schedule" ? "schedule " : "event trigger "}
      <Link href={href} aria-label={`${kind === "schedule" ? "The schedule" : "The event trigger"} ${run.ScheduleId}`}>
        {run.ScheduleId}
      </Link>
    </>
  );
}

function RunInputs({ run }: { run: PipelineRun }) {
  const scalars = Object.entries(run.ParameterAssignments ?? {});
  const datasets = Object.entries(run.DataSetDefinitionValueAssignments ?? {});
  const paths = Object.entries(run.DataPathAssignments ?? {});
  const tags = Object.entries(run.tags ?? {});
  return (
    <Section title="Parameters and data">
      {scalars.length + datasets.length + paths.length === 0 ? (
        <Empty>This run took no parameters.</Empty>
      ) : (
        <TableWrap label="Parameters and data the run resolved">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {scalars.map(([name, value]) => (
                <tr key={`p-${name}`}>
                  <td>
                    <code>{name}</code>
                  </td>
                  <td>parameter</td>
                  <td>
                    <code>{value}</code>
                  </td>
                </tr>
              ))}
              {datasets.map(([name, value]) => (
                <tr key={`d-${name}`}>
                  <td>
                    <code>{name}</code>
                  </td>
                  <td>{value.LiteralValue ? "datapath" : "dataset"}</td>
                  <td>{describeData(value)}</td>
                </tr>
              ))}
              {paths.map(([name, value]) => (
                <tr key={`dp-${name}`}>
                  <td>
                    <code>{name}</code>
                  </td>
                  <td>datapath</td>
                  <td>
                    {value.DataStoreName}/{value.RelativePath}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      )}
      {tags.length > 0 && (
        <p>
          Tags:{" "}
          {tags.map(([key, value]) => (
            <span class="chip" key={key}>
              {key}={value}
            </span>
          ))}
        </p>
      )}
    </Section>
  );
}

