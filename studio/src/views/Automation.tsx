// Schedules and event triggers: runs that start themselves. Each says when it fires, what it
// runs, how its last firing went (a firing that started no run says why: nothing is skipped in
// silence), and who wrote it last. Disable, enable and delete for the roles that allow them;
// creating and changing one is the CLI's and the API's (`pipelines schedule create`, README).
// While the view is open and the tab is seen, both lists are read again every 10 s (poll.ts):
// a schedule that fired shows its new last run and next fire time without a reload, and an
// open question or a disable, enable or delete under way is left as it is.

import type { ComponentChildren } from "preact";
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import type { Automation as Item, AutomationKind, EventTrigger, Schedule } from "../api";
import { describe } from "../api";
import type { Target } from "../automation";
import {
  Writes,
  eventTypesText,
  experimentOf,
  firedSince,
  firingOf,
  mergeLive,
  nextFireTime,
  parseTime,
  recurrenceText,
  targetOf,
  utcMoment,
  withStatus,
  writtenBy,
} from "../automation";
import { shortId } from "../format";
import { whileVisible } from "../poll";
import { link } from "../router";
import { Empty, EntityBadge, ErrorBox, Heading, Link, Loading, Section, TableWrap, useLoad, useStudio } from "./common";

const NOUN: Record<AutomationKind, string> = { schedule: "schedule", trigger: "event trigger" };
/** How often the open view reads the schedules and triggers again (while the tab is seen). */
export const LIVE_INTERVAL = 10_000;

/** Times in UTC here, as the recurrences are written. */
function at(value: string | null | undefined): string {
  const date = parseTime(value);
  return date ? utcMoment(date) : (value ?? "—");
}

export function Automation() {
  const { api, workspace, can } = useStudio();
  const schedules = useLoad(() => api.schedules(), []);
  const triggers = useLoad(() => api.eventTriggers(), []);

  // Names of the pipelines and endpoints named by id, asked only when an item names one so.
  const items: Item[] = [...(schedules.data ?? []), ...(triggers.data ?? [])];
  const byPipeline = items.some((i) => targetOf(i).kind === "pipeline");
  const byEndpointId = items.some((i) => targetOf(i).kind === "endpointId");
  const pipelines = useLoad(
    async () => (byPipeline ? new Map((await api.pipelines(false)).items.map((p) => [p.Id, p.Name ?? p.Id])) : new Map<string, string>()),
    [byPipeline],
  );
  const endpoints = useLoad(
    async () => (byEndpointId ? new Map((await api.endpoints(false)).items.map((e) => [e.Id, e.Name])) : new Map<string, string>()),
    [byEndpointId],
  );
  const names = { pipelines: pipelines.data ?? new Map<string, string>(), endpoints: endpoints.data ?? new Map<string, string>() };
  // A run's page links here to the schedule or trigger that started it (`#schedule-NAME`, `#trigger-NAME`).
  const loaded = !!schedules.data && !!triggers.data;
  useEffect(() => {
    const target = loaded && location.hash ? document.getElementById(decodeURIComponent(location.hash.slice(1))) : null;
    target?.scrollIntoView({ block: "center" });
  }, [loaded]);

  // Live: every 10 s at most, while the tab is seen, both lists are read again (two requests)
  // and merged into what is shown. An item with a disable, enable or delete under way keeps
  // what it shows, and a read that overlapped the start or end of one is dropped (it may hold
  // the state before it). The next fire times move on with the clock of the last read.
  const writes = useMemo(() => new Writes(), []);
  const [now, setNow] = useState(Date.now());
  const [news, setNews] = useState("");
  const shown = useRef({ schedules: schedules.data, triggers: triggers.data });
  shown.current = { schedules: schedules.data, triggers: triggers.data };
  useEffect(() => {
    if (!loaded) return;
    const controller = new AbortController();
    const check = async () => {
      const mark = writes.mark;
      const [freshSchedules, freshTriggers] = await Promise.all([api.schedules(), api.eventTriggers()]);
      if (controller.signal.aborted || writes.since(mark)) return;
      const { schedules: listed = [], triggers: listedTriggers = [] } = shown.current;
      const fired = [...firedSince(listed, freshSchedules), ...firedSince(listedTriggers, freshTriggers)];
      schedules.set(mergeLive(listed, freshSchedules, writes.names("schedule")));
      triggers.set(mergeLive(listedTriggers, freshTriggers, writes.names("trigger")));
      setNow(Date.now());
      if (fired.length) setNews(`Fired since the last look: ${fired.map((item) => item.Name).join(", ")}.`);
    };
    void whileVisible({ run: check, interval: LIVE_INTERVAL, signal: controller.signal, since: Date.now() });
    return () => controller.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [loaded]);
  // Disable and enable take Publish and Submit both (as PUT does), delete Publish alone (as DELETE does).
  const allowed = can("automate") ? "disabled, enabled or deleted" : can("publish") ? "deleted" : null;

  return (
    <>
      <Heading title="Schedules and event triggers">Schedules and event triggers</Heading>
      <p class="lead">
        Runs that start themselves in workspace <strong>{workspace}</strong>: when each one fires, what it runs, and how its last
        firing went. They are created and changed with the CLI (<code>pipelines schedule create</code>,{" "}
        <code>pipelines trigger create</code>) or the API
        {allowed ? `; here they can be ${allowed}.` : "."} The list keeps itself up to date while it is open.
      </p>
      <p class="visually-hidden" role="status">
        {news}
      </p>
      <Section title="Schedules">
        {schedules.loading && !schedules.data && <Loading what="schedules" />}
        {!!schedules.error && <ErrorBox error={schedules.error} retry={schedules.reload} />}
        {schedules.data && schedules.data.length === 0 && (
          <Empty>
            No schedules in this workspace. The studio does not create them: run{" "}
            <code>pipelines schedule create NAME --endpoint ENDPOINT --frequency Day --interval 1</code> (see{" "}
            <code>pipelines schedule create --help</code>), or <code>PUT …/Schedules/NAME</code> as the README's "Runs on a schedule" shows.
          </Empty>
        )}
        {schedules.data && schedules.data.length > 0 && (
          <Items kind="schedule" items={schedules.data} names={names} loaded={schedules} writes={writes} now={now} />
        )}
      </Section>
      <Section title="Event triggers">
        {triggers.loading && !triggers.data && <Loading what="event triggers" />}
        {!!triggers.error && <ErrorBox error={triggers.error} retry={triggers.reload} />}
        {triggers.data && triggers.data.length === 0 && (
          <Empty>
            No event triggers in this workspace. The studio does not create them: run{" "}
            <code>pipelines trigger create NAME --endpoint ENDPOINT --event-type Microsoft.Storage.BlobCreated</code> (see{" "}
            <code>pipelines trigger create --help</code>), or <code>PUT …/EventTriggers/NAME</code> as the README's "Runs from events"
            shows.
          </Empty>
        )}
        {triggers.data && triggers.data.length > 0 && (
          <Items kind="trigger" items={triggers.data} names={names} loaded={triggers} writes={writes} now={now} />
        )}
      </Section>
    </>
  );
}

interface Names {
  pipelines: Map<string, string>;
  endpoints: Map<string, string>;
}

interface ListState<T> {
  set: (value: T[]) => void;
  reload: () => void;
}

/** A table of schedules or of triggers, with the actions the user's roles allow. */
function Items<T extends Schedule | EventTrigger>(props: { kind: AutomationKind; items: T[]; names: Names; loaded: ListState<T>; writes: Writes; now: number }) {
  const { kind, items, names, loaded, writes } = props;
  const { api, can } = useStudio();
  const [busy, setBusy] = useState<string | null>(null);
  // The list as it is when an answer comes (a live read may have changed it since the click).
  const current = useRef(items);
  current.current = items;
  const [failure, setFailure] = useState<{ what: string; error: unknown } | null>(null);
  const toggles = can("automate");
  const deletes = can("publish");
  const noun = NOUN[kind];

  const setStatus = async (item: T, status: 0 | 2) => {
    setBusy(item.Name);
    setFailure(null);
    const ended = writes.begin(kind, item.Name);
    try {
      const body = withStatus(item, status);
      const answer = (kind === "schedule" ? await api.putSchedule(item.Name, body) : await api.putEventTrigger(item.Name, body)) as T;
      loaded.set(current.current.map((i) => (i.Name === answer.Name ? answer : i)));
    } catch (error) {
      setFailure({ what: `${status === 2 ? "Disabling" : "Enabling"} the ${noun} ${item.Name} failed`, error });
      loaded.reload();
    } finally {
      ended();
      setBusy(null);
    }
  };
  const remove = async (item: T) => {
    setBusy(item.Name);
    setFailure(null);
    const ended = writes.begin(kind, item.Name);
    try {
      await (kind === "schedule" ? api.deleteSchedule(item.Name) : api.deleteEventTrigger(item.Name));
      loaded.set(current.current.filter((i) => i.Name !== item.Name));
    } catch (error) {
      setFailure({ what: `Deleting the ${noun} ${item.Name} failed`, error });
      loaded.reload();
    } finally {
      ended();
      setBusy(null);
    }
  };

  const label = kind === "schedule" ? "Schedules" : "Event triggers";
  return (
    <>
      {failure && <Failure what={failure.what} error={failure.error} />}
      <TableWrap label={label}>
        {/* Explicit roles: on a narrow screen the rows are stacked (display: block), which must not
            cost the table its semantics. */}
        <table class="automation" role="table">
          <thead role="rowgroup">
            <tr role="row">
              {columns(kind, toggles || deletes).map((name) => (
                <th scope="col" role="columnheader" key={name}>
                  {name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody role="rowgroup">
            {items.map((item) => (
              <Row
                key={item.Name}
                kind={kind}
                item={item}
                names={names}
                now={props.now}
                busy={busy === item.Name}
                toggles={toggles}
                deletes={deletes}
                onStatus={(status) => setStatus(item, status)}
                onDelete={() => remove(item)}
              />
            ))}
          </tbody>
        </table>
      </TableWrap>
    </>
  );
}

/** The columns' headings; on a narrow screen each cell says its own (`Cell`). */
function columns(kind: AutomationKind, actions: boolean): string[] {
  const names = ["Name", "Status", kind === "schedule" ? "Fires" : "Fires on", "What it runs", "Experiment", "Last fired", "Skipped firings", "Written last by"];
  return actions ? [...names, "Actions"] : names;
}

function Cell({ label, children, class: name }: { label: string; children: ComponentChildren; class?: string }) {
  return (
    <td role="cell" data-label={label} class={name}>
      <div class="cell">{children}</div>
    </td>
  );
}

function Failure({ what, error }: { what: string; error: unknown }) {
  const { title, text } = describe(error);
  return (
    <p class="action-error" role="alert">
      <strong>
        {what}: {title}.
      </strong>{" "}
      {text}
    </p>
  );
}

function Row(props: {
  kind: AutomationKind;
  item: Schedule | EventTrigger;
  names: Names;
  now: number;
  busy: boolean;
  toggles: boolean;
  deletes: boolean;
  onStatus: (status: 0 | 2) => void;
  onDelete: () => void;
}) {
  const { workspace } = useStudio();
  const { kind, item } = props;
  const firing = firingOf(item);
  const experiment = experimentOf(item);
  const author = writtenBy(item);
  const active = item.EntityStatus === 0;
  const [, status, when, target, experimentColumn, fired, skips, by, actions] = columns(kind, true);
  return (
    <tr role="row" id={`${kind}-${item.Name}`} class={firing.lastSkipped ? "last-skipped" : undefined}>
      <th scope="row" role="rowheader" class="automation-name">
        {item.Name}
        {item.Description && <span class="muted description">{item.Description}</span>}
      </th>
      <Cell label={status}>
        <EntityBadge status={item.EntityStatus} />
      </Cell>
      <Cell label={when} class="automation-when">
        {kind === "schedule" ? <When schedule={item as Schedule} active={active} now={props.now} /> : <Events trigger={item as EventTrigger} />}
      </Cell>
      <Cell label={target} class="automation-target">
        <TargetLink target={targetOf(item)} names={props.names} />
      </Cell>
      <Cell label={experimentColumn}>{experiment ?? <span class="muted">the pipeline's name</span>}</Cell>
      <Cell label={fired} class="automation-fired">
        {firing.lastFired ? at(firing.lastFired) : <span class="muted">Never</span>}
        {firing.runId ? (
          <span class="block">
            <Link href={link("run", { ws: workspace, runId: firing.runId })}>Last run {shortId(firing.runId)}</Link>
          </span>
        ) : (
          firing.lastFired && <span class="block muted">No run started yet</span>
        )}
      </Cell>
      <Cell label={skips} class="automation-skips">
        <span class="skip-count">{firing.skipped}</span>
        {firing.error && (
          <div class="firing-error">
            <strong>{firing.lastSkipped ? "Its last firing started no run." : "An earlier firing started no run."}</strong>{" "}
            <span class="firing-when">
              {firing.error.FireTime ? `Fire time ${at(firing.error.FireTime)}` : `Event ${firing.error.EventId ?? "?"} at ${at(firing.error.Time)}`}:
            </span>{" "}
            {firing.error.Message}{" "}
            <span class="muted">
              ({firing.error.Code}
              {firing.error.FireTime ? `, recorded ${at(firing.error.Time)}` : ""})
            </span>
          </div>
        )}
      </Cell>
      <Cell label={by}>{author ?? <span class="muted">not recorded</span>}</Cell>
      {(props.toggles || props.deletes) && (
        <Cell label={actions} class="automation-actions">
          <Actions {...props} />
        </Cell>
      )}
    </tr>
  );
}

function When({ schedule, active, now }: { schedule: Schedule; active: boolean; now: number }) {
  // The next fire time after now (the last read's), and after the last one handled (none fires twice).
  const fired = parseTime(schedule.LastFiredTime)?.getTime() ?? 0;
  const next = active ? nextFireTime(schedule.Recurrence, new Date(Math.max(now, fired))) : null;
  return (
    <>
      {recurrenceText(schedule.Recurrence)}
      {next && <span class="block muted">Next: {utcMoment(next)}</span>}
    </>
  );
}

function Events({ trigger }: { trigger: EventTrigger }) {
  const filters: [string, string][] = [];
  if (trigger.SubjectBeginsWith) filters.push(["Subject begins with", trigger.SubjectBeginsWith]);
  if (trigger.SubjectEndsWith) filters.push([filters.length ? "and ends with" : "Subject ends with", trigger.SubjectEndsWith]);
  return (
    <>
      {eventTypesText(trigger.EventTypes)}
      {filters.length === 0 ? (
        <span class="block muted">Any subject</span>
      ) : (
        filters.map(([words, value]) => (
          <span class="block" key={words}>
            {words} <code class="subject">{value}</code>
          </span>
        ))
      )}
    </>
  );
}

function TargetLink({ target, names }: { target: Target; names: Names }) {
  const { workspace } = useStudio();
  const version = (v: string | null): ComponentChildren =>
    v ? <span class="muted"> version {v}</span> : <span class="muted"> (its default version)</span>;
  switch (target.kind) {
    case "endpoint":
      return (
        <>
          Endpoint <Link href={link("endpoint", { ws: workspace, name: target.name })}>{target.name}</Link>
          {version(target.version)}
        </>
      );
    case "endpointId": {
      const name = names.endpoints.get(target.id);
      return (
        <>
          Endpoint {name ? <Link href={link("endpoint", { ws: workspace, name })}>{name}</Link> : <code>{shortId(target.id)}</code>}
          {version(target.version)}
        </>
      );
    }
    case "pipeline":
      return (
        <>
          Pipeline <Link href={link("pipeline", { ws: workspace, id: target.id })}>{names.pipelines.get(target.id) ?? shortId(target.id)}</Link>
        </>
      );
    default:
      return <span class="muted">—</span>;
  }
}

function Actions(props: {
  kind: AutomationKind;
  item: Schedule | EventTrigger;
  busy: boolean;
  toggles: boolean;
  deletes: boolean;
  onStatus: (status: 0 | 2) => void;
  onDelete: () => void;
}) {
  const { item, busy } = props;
  const what = `${NOUN[props.kind]} ${item.Name}`;
  const [confirming, setConfirming] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  const deleteRef = useRef<HTMLButtonElement>(null);
  const asked = useRef(false);
  // Before the browser paints: the button that asked may have been reused for the question's
  // "Keep" (preact keeps a focused element it patches), so the focus is moved in the same commit.
  useLayoutEffect(() => {
    if (confirming) confirmRef.current?.focus();
    else if (asked.current) deleteRef.current?.focus(); // kept: back to the button that asked
  }, [confirming]);

  if (confirming) {
    const keep = () => setConfirming(false);
    return (
      <div class="confirm" role="group" aria-label={`Delete the ${what}?`} onKeyDown={(e) => e.key === "Escape" && keep()}>
        <span>Delete it for good?</span>
        <button
          ref={confirmRef}
          type="button"
          class="button small danger"
          disabled={busy}
          aria-label={`Yes, delete the ${what}`}
          onClick={() => props.onDelete()}
        >
          Yes, delete
        </button>
        <button type="button" class="button small" disabled={busy} aria-label={`Keep the ${what}`} onClick={keep}>
          Keep
        </button>
      </div>
    );
  }
  return (
    <div class="row-actions">
      {props.toggles &&
        (item.EntityStatus === 2 ? (
          <button type="button" class="button small" disabled={busy} aria-label={`Enable the ${what}`} onClick={() => props.onStatus(0)}>
            Enable
          </button>
        ) : (
          <button type="button" class="button small danger" disabled={busy} aria-label={`Disable the ${what}`} onClick={() => props.onStatus(2)}>
            Disable
          </button>
        ))}
      {props.deletes && (
        <button
          ref={deleteRef}
          type="button"
          class="button small danger"
          disabled={busy}
          aria-label={`Delete the ${what}`}
          onClick={() => {
            asked.current = true;
            setConfirming(true);
          }}
        >
          Delete
        </button>
      )}
    </div>
  );
}
