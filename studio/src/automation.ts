// Schedules and event triggers in words: the recurrence, the next fire time, what the last
// firing did (a skipped one must show), the target and who wrote it last. Recurrences are
// UTC (README "Runs on a schedule"), so their times are said in UTC, not in the reader's zone.
// The view reads them again while it is open: `mergeLive` takes what changed without undoing
// what the user has under way (`Writes`).

import type { Automation, AutomationKind, FiringError, Recurrence } from "./api";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const UNITS: Record<string, [string, string]> = {
  Minute: ["minute", "minutes"],
  Hour: ["hour", "hours"],
  Day: ["day", "days"],
  Week: ["week", "weeks"],
  Month: ["month", "months"],
};
const SECONDS: Record<string, number> = { Minute: 60, Hour: 3600, Day: 86400, Week: 7 * 86400 };

/** A time of the wire (ISO 8601, microseconds and all) as a Date; null when there is none. */
export function parseTime(value: string | null | undefined): Date | null {
  if (!value) return null;
  const date = new Date(value.replace(/(\.\d{3})\d+/, "$1")); // JavaScript reads milliseconds at most
  return Number.isNaN(date.getTime()) ? null : date;
}

const two = (n: number) => String(n).padStart(2, "0");

/** "02:00 UTC" ("02:00:30 UTC" when the seconds are not 0). */
export function utcClock(date: Date): string {
  const seconds = date.getUTCSeconds() ? `:${two(date.getUTCSeconds())}` : "";
  return `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}${seconds} UTC`;
}

/** "1 Dec 2026". */
export function utcDay(date: Date): string {
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
}

/** "1 Dec 2026, 02:00 UTC". */
export function utcMoment(date: Date): string {
  return `${utcDay(date)}, ${utcClock(date)}`;
}

function ordinal(n: number): string {
  const tens = n % 100;
  if (tens >= 11 && tens <= 13) return `${n}th`;
  return `${n}${["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

/** "Every day at 02:00 UTC, starting 1 Dec 2026": when a schedule fires (start + k × interval). */
export function recurrenceText(recurrence: Recurrence): string {
  const { Frequency: frequency, Interval: interval } = recurrence;
  const start = parseTime(recurrence.StartTime);
  const unit = UNITS[frequency];
  if (!unit || !Number.isInteger(interval) || interval < 1) return `Every ${interval} ${frequency}`;
  const every = interval === 1 ? `Every ${unit[0]}` : `Every ${interval} ${unit[1]}`;
  if (!start) return every;
  switch (frequency) {
    case "Minute":
    case "Hour":
      return `${every}, starting ${utcMoment(start)}`;
    case "Day":
      return `${every} at ${utcClock(start)}, starting ${utcDay(start)}`;
    case "Week":
      return `${every} on ${WEEKDAYS[start.getUTCDay()]} at ${utcClock(start)}, starting ${utcDay(start)}`;
    default: {
      const day = start.getUTCDate();
      const short = day > 28 ? " (the last day of a shorter month)" : "";
      return `${every} on the ${ordinal(day)}${short} at ${utcClock(start)}, starting ${utcDay(start)}`;
    }
  }
}

/** `start` plus `months` calendar months, the day kept or, in a shorter month, its last day. */
export function addMonths(start: Date, months: number): Date {
  const index = start.getUTCMonth() + months;
  const year = start.getUTCFullYear() + Math.floor(index / 12);
  const month = ((index % 12) + 12) % 12;
  const last = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
  const day = Math.min(start.getUTCDate(), last);
  return new Date(
    Date.UTC(year, month, day, start.getUTCHours(), start.getUTCMinutes(), start.getUTCSeconds(), start.getUTCMilliseconds()),
  );
}

/** The k-th fire time: start + k × interval (pipelines/schedules/model.py `Recurrence.fire_time`). */
function fireTime(recurrence: Recurrence, start: Date, k: number): Date {
  const seconds = SECONDS[recurrence.Frequency];
  if (seconds === undefined) return addMonths(start, k * recurrence.Interval);
  return new Date(start.getTime() + seconds * 1000 * recurrence.Interval * k);
}

/** The first fire time after `now` (the start itself while it is ahead); null for a recurrence
 * the page cannot read. */
export function nextFireTime(recurrence: Recurrence, now: Date): Date | null {
  const start = parseTime(recurrence.StartTime);
  if (!start || !UNITS[recurrence.Frequency] || !Number.isInteger(recurrence.Interval) || recurrence.Interval < 1) return null;
  if (now.getTime() < start.getTime()) return start;
  const seconds = SECONDS[recurrence.Frequency];
  let k: number;
  if (seconds === undefined) {
    const months = (now.getUTCFullYear() - start.getUTCFullYear()) * 12 + now.getUTCMonth() - start.getUTCMonth();
    k = Math.max(0, Math.floor(months / recurrence.Interval) - 1);
  } else {
    k = Math.floor((now.getTime() - start.getTime()) / (seconds * 1000 * recurrence.Interval));
  }
  while (fireTime(recurrence, start, k).getTime() <= now.getTime()) k += 1;
  return fireTime(recurrence, start, k);
}

/** What its firings did, as the page shows it. */
export interface Firing {
  lastFired: string | null;
  /** The run of the last firing that started one (not necessarily the last firing). */
  runId: string | null;
  /** Why the last firing that started no run did not (kept after later runs). */
  error: FiringError | null;
  /** The last firing of all started no run: its error is the newest news. */
  lastSkipped: boolean;
  skipped: number;
}

export function firingOf(item: Automation): Firing {
  const error = item.LastError ?? null;
  const fired = parseTime(item.LastFiredTime);
  // A schedule's error names its fire time, a trigger's the moment its event came: the last
  // firing is that one when LastFiredTime is the same moment.
  const skippedAt = parseTime(error?.FireTime ?? error?.Time);
  return {
    lastFired: item.LastFiredTime ?? null,
    runId: item.LastRunId ?? null,
    error,
    lastSkipped: !!error && !!fired && !!skippedAt && fired.getTime() === skippedAt.getTime(),
    skipped: item.SkippedCount ?? 0,
  };
}

/** Who wrote it last: the name in their token, else their object id; null when unknown
 * (written before authors were kept). */
export function writtenBy(item: Automation): string | null {
  const author = item.LastModifiedBy;
  return author?.UserName || author?.UserObjectId || null;
}

export type Target =
  | { kind: "endpoint"; name: string; version: string | null }
  | { kind: "endpointId"; id: string; version: string | null }
  | { kind: "pipeline"; id: string }
  | { kind: "none" };

/** What it runs: an endpoint (by name or id, at a version or its default) or a pipeline. */
export function targetOf(item: Automation): Target {
  const version = item.PipelineVersion || null;
  if (item.PipelineEndpointName) return { kind: "endpoint", name: item.PipelineEndpointName, version };
  if (item.PipelineEndpointId) return { kind: "endpointId", id: item.PipelineEndpointId, version };
  if (item.PipelineId) return { kind: "pipeline", id: item.PipelineId };
  return { kind: "none" };
}

/** The experiment its runs go to; null: the service's default (the pipeline's name made valid). */
export function experimentOf(item: Automation): string | null {
  const name = item.Request?.ExperimentName;
  return typeof name === "string" && name ? name : null;
}

/** The event types a trigger matches, in words. */
export function eventTypesText(types: string[] | null | undefined): string {
  return types && types.length ? types.join(", ") : "Any event type";
}

/** The body of a PUT that changes only its status: the entity as read (the service ignores
 * what an answer holds and a body does not set). */
export function withStatus<T extends Automation>(item: T, status: 0 | 2): T {
  return { ...item, EntityStatus: status };
}

/**
 * The disables, enables and deletes under way, for the view's live reads: an item with one
 * under way keeps what the page shows until its own answer comes, and a read that was under
 * way when one began or ended may hold the state it changes, so it is dropped (the next read
 * comes soon enough).
 */
export class Writes {
  private pending = new Set<string>();
  private changes = 0;

  /** One begins on `name`; the function returned says it ended (answered or failed). */
  begin(kind: AutomationKind, name: string): () => void {
    const key = `${kind}/${name}`;
    this.pending.add(key);
    this.changes += 1;
    return () => {
      this.pending.delete(key);
      this.changes += 1;
    };
  }

  /** A mark to take before a read; `since(mark)`: one began or ended after it. */
  get mark(): number {
    return this.changes;
  }

  since(mark: number): boolean {
    return this.changes !== mark;
  }

  /** The names of `kind` with one under way. */
  names(kind: AutomationKind): Set<string> {
    const prefix = `${kind}/`;
    return new Set([...this.pending].filter((key) => key.startsWith(prefix)).map((key) => key.slice(prefix.length)));
  }
}

/**
 * A fresh read of the list merged into what is shown: the service's list as it is now (new
 * ones in, gone ones out, each in its fresh state: a fired schedule's last run and next fire
 * time), except the items in `pending`, which keep what is shown (and their place, when the
 * read no longer has them: a delete under way) until their own answer comes.
 */
export function mergeLive<T extends Automation>(shown: T[], fresh: T[], pending: ReadonlySet<string>): T[] {
  const before = new Map(shown.map((item) => [item.Name, item]));
  const merged = fresh.map((item) => (pending.has(item.Name) ? (before.get(item.Name) ?? item) : item));
  const names = new Set(fresh.map((item) => item.Name));
  shown.forEach((item, index) => {
    if (!pending.has(item.Name) || names.has(item.Name)) return;
    const after = index === 0 ? -1 : merged.findIndex((i) => i.Name === shown[index - 1].Name);
    merged.splice(after + 1, 0, item);
  });
  return merged;
}

/** The items of `fresh` that fired since `shown` was read (their last fire time moved), for a
 * word to screen readers. */
export function firedSince<T extends Automation>(shown: T[], fresh: T[]): T[] {
  const before = new Map(shown.map((item) => [item.Name, item.LastFiredTime ?? null]));
  return fresh.filter((item) => before.has(item.Name) && (item.LastFiredTime ?? null) !== before.get(item.Name) && !!item.LastFiredTime);
}
