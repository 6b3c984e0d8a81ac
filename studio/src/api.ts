// Every call the page makes: the API's own routes (docs/contract.md, openapi.json), with
// the user's token. Errors become an ApiError whose `kind` the views put into words.

import type { WorkspaceAddress } from "./config";

// -- the wire shapes the page reads (PascalCase: the pipelines family; camelCase: run history) --
export interface PipelineVersion {
  Version: string;
  PipelineId: string;
}

export interface Endpoint {
  Id: string;
  Name: string;
  Description: string | null;
  DefaultVersion: string;
  PipelineVersionList: PipelineVersion[];
  EntityStatus: number;
  Url: string;
  Etag: string | null;
  CreatedDate: string | null;
  LastModifiedDate: string | null;
}

export interface Pipeline {
  Id: string;
  Name: string | null;
  Description: string | null;
  Version: string | null;
  EntityStatus: number;
  Url: string;
  TotalRunSteps: number;
  GraphId: string;
  ContinueRunOnStepFailure: boolean;
  ParameterAssignments: Record<string, string>;
  DataSetDefinitionValueAssignments: Record<string, DataAssignment>;
  // Declared types, when the API names them (see docs/studio.md); else they are inferred.
  ParameterTypes?: Record<string, string>;
  CreatedDate: string | null;
}

export interface DataPath {
  DataStoreName: string | null;
  RelativePath: string | null;
}

export interface DataAssignment {
  DataSetReference?: { Id?: string | null; Name?: string | null; Version?: string | null };
  SavedDataSetReference?: { Id: string };
  LiteralValue?: DataPath;
}

export interface RunStatus {
  StatusCode: number;
  StatusDetail: string | null;
  CreationTime: string | null;
  EndTime: string | null;
}

export interface PipelineRun {
  Id: string;
  Description: string | null;
  Status: RunStatus;
  GraphId: string;
  ParameterAssignments: Record<string, string>;
  DataSetDefinitionValueAssignments: Record<string, DataAssignment>;
  DataPathAssignments?: Record<string, DataPath>;
  RunHistoryExperimentName: string | null;
  PipelineId: string;
  RunSource: string | null;
  RunType: string | null;
  ScheduleId?: string | null; // the schedule (or event trigger) that started it
  TotalRunSteps: number;
  tags: Record<string, string>;
  Properties: Record<string, string>;
  PipelineEndpointId?: string | null;
  PipelineVersion?: string | null;
  StartTime?: string | null;
  CreatedDate: string | null;
}

export interface AttemptStatus {
  Attempt: number;
  Worker: string | null;
  StartTime: string | null;
  EndTime: string | null;
  Outcome: string;
  Reason: string | null;
  ExitCode: number | null;
  ScriptExitTime: string | null;
  Detail: string | null;
}

// The execution a step took its outputs from instead of running (docs/contract.md §3, step reuse).
export interface ReuseInfo {
  RunId: string;
  NodeId: string;
  PipelineRunId: string;
  NodeStartTime: string | null;
  NodeEndTime: string | null;
}

export interface TaskStatus {
  StatusCode: number;
  StatusDetail: string | null;
  CreationTime: string | null;
  ScheduleTime: string | null;
  StartTime: string | null;
  EndTime: string | null;
  RunId: string | null;
  ReuseInfo?: ReuseInfo | null;
  Name?: string | null;
  Attempt?: number | null;
  // Every execution of the step (a retry, a lost worker): see docs/contract.md.
  Attempts?: AttemptStatus[];
  ExitCode?: number | null;
  Metrics?: Record<string, unknown>;
  Status?: string | null;
  // The steps this one waits for, when the API names them (see docs/studio.md).
  Parents?: string[];
}

export interface RunDto {
  runId: string;
  parentRunId: string | null;
  runNumber: number | null;
  name: string | null;
  displayName: string | null;
  status: string;
  createdUtc: string | null;
  startTimeUtc: string | null;
  endTimeUtc: string | null;
  runType: string | null;
  properties: Record<string, string>;
  tags: Record<string, string>;
  error: { error: { code: string; message: string } } | null;
  createdBy?: { userName?: string | null; userObjectId?: string | null } | null;
}

export interface RunDetails {
  runId: string;
  status: string;
  runDefinition: { inputs?: string[]; outputs?: string[]; script?: string } & Record<string, unknown>;
  logFiles: Record<string, string>;
}

export interface Paginated<T> {
  value: T[];
  continuationToken: string | null;
}

export interface Experiment {
  experimentId: string;
  name: string;
  lastCreatedRunUtc: string | null;
}

export interface NodeOutput {
  LogicalSizeInBytes: number | null;
  FileCount?: number | null;
  DataLocation: { Uri: string };
}

export interface OutputFile {
  Path: string;
  Size: number;
  Url: string;
}

export interface OutputListing {
  Name: string;
  Files: OutputFile[];
  ContinuationToken: string | null;
}

export interface Dataset {
  Id: string;
  Name: string;
  Version: number | string;
}

export interface Datastore {
  Name: string;
}

export interface ErrorDetail {
  Code: string;
  Message: string;
  Target: string | null;
}

// -- schedules and event triggers (openapi.json ScheduleEntity, EventTriggerEntity) --
export interface Author {
  UserObjectId: string;
  UserTenantId: string | null;
  UserName: string | null;
}

/** Why a firing started no run: the error a submit would have answered. */
export interface FiringError {
  Code: string;
  Message: string;
  Details: ErrorDetail[];
  Time: string;
  EventId: string | null; // an event trigger's
  FireTime: string | null; // a schedule's
}

export interface Automation {
  Name: string;
  Description: string | null;
  PipelineId: string | null;
  PipelineEndpointId: string | null;
  PipelineEndpointName: string | null;
  PipelineVersion: string | null;
  Request: Record<string, unknown> & { ExperimentName?: string | null };
  EntityStatus: number;
  Etag: string | null;
  CreatedDate: string | null;
  LastModifiedDate: string | null;
  CreatedBy: Author | null;
  LastModifiedBy: Author | null;
  LastFiredTime: string | null;
  LastRunId: string | null;
  LastError: FiringError | null;
  SkippedCount: number;
}

export interface Recurrence {
  Frequency: string;
  Interval: number;
  StartTime: string;
  TimeZone: string;
}

export interface Schedule extends Automation {
  Recurrence: Recurrence;
}

export interface EventTrigger extends Automation {
  EventTypes: string[];
  SubjectBeginsWith: string | null;
  SubjectEndsWith: string | null;
}

export type AutomationKind = "schedule" | "trigger";

// -- errors ------------------------------------------------------------------------------------------
export type ErrorKind =
  | "network" // no answer at all
  | "expired" // 401 with a token past its lifetime
  | "unauthorized" // 401 otherwise
  | "forbidden" // 403
  | "notfound"
  | "bad" // 400
  | "conflict" // 409, 412
  | "down" // 502, 503, 504
  | "server"; // 500 and anything else

export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly status = 0,
    readonly target: string | null = null,
    readonly details: ErrorDetail[] = [],
    readonly requestId: string | null = null,
  ) {
    super(message);
  }
}

/** What went wrong, in words a person can act on. */
export function describe(error: unknown): { title: string; text: string } {
  if (!(error instanceof ApiError)) {
    return { title: "Something went wrong", text: error instanceof Error ? error.message : String(error) };
  }
  const id = error.requestId ? ` (request id ${error.requestId})` : "";
  switch (error.kind) {
    case "network":
      return { title: "The service does not answer", text: "It may be down or restarting. Try again in a moment." };
    case "expired":
      return { title: "Your sign-in has expired", text: "Sign in again to go on." };
    case "unauthorized":
      return { title: "You are not signed in", text: `The service did not accept the token: ${error.message}` };
    case "forbidden":
      return {
        title: "Not allowed",
        text: `Your sign-in lacks the role this needs${error.target ? ` (${error.target})` : ""}. Ask an owner of the app for it.`,
      };
    case "notfound":
      return { title: "Not found", text: error.message };
    case "bad":
      return { title: "The service refused the request", text: error.message };
    case "conflict":
      return { title: "Conflict", text: error.message };
    case "down":
      return { title: "The service is unavailable", text: `It cannot reach its storage right now. Try again in a moment${id}.` };
    default:
      return { title: "The service failed", text: `An unexpected error happened on the server${id}.` };
  }
}

function kindOf(status: number, expiredToken: boolean): ErrorKind {
  if (status === 401) return expiredToken ? "expired" : "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "notfound";
  if (status === 400 || status === 413 || status === 416) return "bad";
  if (status === 409 || status === 412) return "conflict";
  if (status === 502 || status === 503 || status === 504) return "down";
  return "server";
}

// -- the client ----------------------------------------------------------------------------------------
export interface TokenSource {
  token(): Promise<string>;
  expired(): boolean;
}

export type AuthListener = (error: ApiError) => void;

/** How long the page waits for an answer before it says the service does not answer. */
export const REQUEST_TIMEOUT = 30_000;

export class Api {
  readonly ws: string;
  readonly hs: string;
  private listeners = new Set<AuthListener>();

  constructor(
    readonly workspace: WorkspaceAddress,
    private readonly tokens: TokenSource,
    private readonly timeout = REQUEST_TIMEOUT,
  ) {
    const scope =
      `subscriptions/${encodeURIComponent(workspace.subscriptionId)}/resourceGroups/${encodeURIComponent(workspace.resourceGroup)}` +
      `/providers/Microsoft.MachineLearningServices/workspaces/${encodeURIComponent(workspace.name)}`;
    this.ws = `/pipelines/v1.0/${scope}`;
    this.hs = `/history/v1.0/${scope}`;
  }

  /** Called on every 401, so the page can ask the user to sign in again. */
  onAuthProblem(listener: AuthListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async request(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const token = await this.tokens.token();
    // A service that hangs is one that does not answer: give up after `timeout`.
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.timeout);
    const init: RequestInit = {
      method,
      cache: "no-store",
      signal: controller.signal,
      headers: { Authorization: `Bearer ${token}`, ...(body !== undefined ? { "Content-Type": "application/json" } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    };
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch {
      throw new ApiError("network", "the service does not answer");
    } finally {
      clearTimeout(timer);
    }
    if (response.ok) return response;
    let message = `HTTP ${response.status}`;
    let target: string | null = null;
    let details: ErrorDetail[] = [];
    let requestId = response.headers.get("x-ms-request-id");
    try {
      const parsed = (await response.json()) as {
        Error?: { Message?: string; Target?: string | null; Details?: ErrorDetail[] };
        Correlation?: { RequestId?: string };
      };
      message = parsed.Error?.Message ?? message;
      target = parsed.Error?.Target ?? null;
      details = parsed.Error?.Details ?? [];
      requestId = parsed.Correlation?.RequestId ?? requestId;
    } catch {
      // not the contract's error JSON (a proxy in front, say): the status says enough
    }
    const error = new ApiError(kindOf(response.status, this.tokens.expired()), message, response.status, target, details, requestId);
    if (response.status === 401) this.listeners.forEach((listener) => listener(error));
    throw error;
  }

  async json<T>(method: string, url: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, url, body)).json()) as T;
  }

  /** A page of a PascalCase list route, and the continuation token of the next one. */
  async page<T>(url: string, top: number, token?: string | null): Promise<{ items: T[]; next: string | null }> {
    const join = url.includes("?") ? "&" : "?";
    const continuation = token ? `&continuationToken=${encodeURIComponent(token)}` : "";
    const response = await this.request("GET", `${url}${join}top=${top}${continuation}`);
    return { items: (await response.json()) as T[], next: response.headers.get("x-ms-continuation") };
  }

  /** Every page of a PascalCase list route, following x-ms-continuation to the end. */
  async all<T>(url: string, top: number): Promise<{ items: T[]; next: null }> {
    const items: T[] = [];
    let token: string | null = null;
    do {
      const page: { items: T[]; next: string | null } = await this.page<T>(url, top, token);
      items.push(...page.items);
      token = page.next;
    } while (token);
    return { items, next: null };
  }

  // -- catalogue --------------------------------------------------------------------------------
  endpoints(activeOnly: boolean) {
    return this.all<Endpoint>(`${this.ws}/PipelineEndpoints?activeOnly=${activeOnly}`, 100);
  }
  endpointByName(name: string) {
    return this.json<Endpoint>("GET", `${this.ws}/PipelineEndpoints/Name?name=${encodeURIComponent(name)}`);
  }
  updateEndpoint(id: string, body: Record<string, unknown>) {
    return this.json<Endpoint>("PUT", `${this.ws}/PipelineEndpoints/${encodeURIComponent(id)}`, body);
  }
  pipelines(activeOnly: boolean) {
    return this.all<Pipeline>(`${this.ws}/Pipelines?activeOnly=${activeOnly}`, 100);
  }
  pipeline(id: string) {
    return this.json<Pipeline>("GET", `${this.ws}/Pipelines/${encodeURIComponent(id)}`);
  }
  setPipelineStatus(id: string, status: "Active" | "Disabled") {
    return this.json<Pipeline>("PUT", `${this.ws}/Pipelines/${encodeURIComponent(id)}/status`, status);
  }
  datasets() {
    return this.all<Dataset>(`${this.ws}/Datasets`, 200);
  }
  datastores() {
    return this.all<Datastore>(`${this.ws}/Datastores`, 200);
  }

  // -- runs ------------------------------------------------------------------------------------------
  submitToPipeline(pipelineId: string, body: unknown) {
    return this.json<PipelineRun>("POST", `${this.ws}/PipelineRuns/PipelineSubmit/${encodeURIComponent(pipelineId)}`, body);
  }
  submitToEndpoint(endpointId: string, version: string | null, body: unknown) {
    const query = version !== null ? `?pipelineVersion=${encodeURIComponent(version)}` : "";
    return this.json<PipelineRun>(
      "POST",
      `${this.ws}/PipelineRuns/PipelineEndpointSubmit/Id/${encodeURIComponent(endpointId)}${query}`,
      body,
    );
  }
  run(id: string) {
    return this.json<PipelineRun>("GET", `${this.ws}/PipelineRuns/${encodeURIComponent(id)}`);
  }
  runsOfPipeline(pipelineId: string, top: number) {
    return this.page<PipelineRun>(`${this.ws}/PipelineRuns/Pipeline/${encodeURIComponent(pipelineId)}`, top);
  }
  rerun(id: string) {
    return this.json<PipelineRun>("POST", `${this.ws}/PipelineRuns/${encodeURIComponent(id)}/Rerun`, {});
  }
  cancel(id: string) {
    return this.json<PipelineRun>("POST", `${this.ws}/PipelineRuns/${encodeURIComponent(id)}/Cancel`);
  }
  steps(id: string) {
    return this.json<Record<string, TaskStatus>>("POST", `${this.ws}/PipelineRuns/${encodeURIComponent(id)}/Graph/AllNodes/Status`);
  }
  private logUrl(id: string, nodeId: string, kind: string, attempt?: number | null): string {
    const which = attempt ? `&attempt=${attempt}` : "";
    return `${this.ws}/PipelineRuns/${encodeURIComponent(id)}/Graph/Shareable/${kind}?nodeId=${encodeURIComponent(nodeId)}${which}`;
  }
  /** A step's log as text: the route answers all of it, or the last 8 MiB of a longer one after a
   * line saying how much it left out; `attempt` reads an earlier attempt's. */
  async log(id: string, nodeId: string, kind: string, attempt?: number | null): Promise<string> {
    return (await this.request("GET", this.logUrl(id, nodeId, kind, attempt))).text();
  }
  /** A step's whole log as written, read with Range in parts of 8 MiB (the route's most). */
  async logFile(id: string, nodeId: string, kind: string, attempt?: number | null): Promise<Blob> {
    const url = this.logUrl(id, nodeId, kind, attempt);
    const part = 8 * 1024 * 1024;
    const parts: Blob[] = [];
    let total = 1;
    for (let first = 0; first < total; first += part) {
      let response: Response;
      try {
        response = await this.request("GET", url, undefined, { Range: `bytes=${first}-${first + part - 1}` });
      } catch (error) {
        if (error instanceof ApiError && error.status === 416 && first === 0) break; // an empty log
        throw error;
      }
      // "bytes first-last/size"; an answer without it (200) held the whole log
      total = Number((response.headers.get("Content-Range") ?? "").split("/")[1]) || 0;
      parts.push(await response.blob());
    }
    return new Blob(parts, { type: "text/plain;charset=utf-8" });
  }
  outputs(id: string, nodeId: string) {
    return this.json<Record<string, NodeOutput>>("POST", `${this.ws}/PipelineRuns/${encodeURIComponent(id)}/Outputs`, [nodeId]);
  }
  outputFiles(uri: string) {
    return this.json<OutputListing>("GET", uri);
  }

  // -- schedules and event triggers (whole lists: the routes do not page) -----------------------------
  private automationUrl(kind: AutomationKind, name?: string): string {
    const route = kind === "schedule" ? "Schedules" : "EventTriggers";
    return `${this.ws}/${route}${name === undefined ? "" : `/${encodeURIComponent(name)}`}`;
  }
  schedules() {
    return this.json<Schedule[]>("GET", this.automationUrl("schedule"));
  }
  schedule(name: string) {
    return this.json<Schedule>("GET", this.automationUrl("schedule", name));
  }
  putSchedule(name: string, body: object) {
    return this.json<Schedule>("PUT", this.automationUrl("schedule", name), body);
  }
  deleteSchedule(name: string) {
    return this.request("DELETE", this.automationUrl("schedule", name)).then(() => undefined);
  }
  eventTriggers() {
    return this.json<EventTrigger[]>("GET", this.automationUrl("trigger"));
  }
  eventTrigger(name: string) {
    return this.json<EventTrigger>("GET", this.automationUrl("trigger", name));
  }
  putEventTrigger(name: string, body: object) {
    return this.json<EventTrigger>("PUT", this.automationUrl("trigger", name), body);
  }
  deleteEventTrigger(name: string) {
    return this.request("DELETE", this.automationUrl("trigger", name)).then(() => undefined);
  }

  // -- run history -------------------------------------------------------------------------------------
  historyRun(id: string) {
    return this.json<RunDto>("GET", `${this.hs}/runs/${encodeURIComponent(id)}`);
  }
  runDetails(id: string) {
    return this.json<RunDetails>("GET", `${this.hs}/runs/${encodeURIComponent(id)}/details`);
  }
  /** Every experiment of the workspace (the route answers them all at once). */
  async experiments(): Promise<Experiment[]> {
    return (await this.json<Paginated<Experiment>>("GET", `${this.hs}/experiments`)).value;
  }
  queryRuns(experiment: string, filter: string, top: number, continuationToken: string | null) {
    return this.json<Paginated<RunDto>>("POST", `${this.hs}/experiments/${encodeURIComponent(experiment)}/runs:query`, {
      filter,
      orderby: "CreatedUtc desc",
      top,
      continuationToken,
    });
  }

  /** A file of a step's output, read in ranges (8 MiB each), as one Blob. */
  async download(url: string, size: number, onProgress?: (done: number) => void): Promise<Blob> {
    const part = 8 * 1024 * 1024;
    const parts: Blob[] = [];
    for (let first = 0; first < Math.max(size, 1); first += part) {
      const last = Math.min(size, first + part) - 1;
      if (last < first) break;
      const response = await this.request("GET", url, undefined, { Range: `bytes=${first}-${last}` });
      parts.push(await response.blob());
      onProgress?.(last + 1);
    }
    return new Blob(parts, { type: "application/octet-stream" });
  }
}
