import { describe, expect, it } from "vitest";
import type { Automation, Recurrence } from "../src/api";
import { actionsOf } from "../src/auth";
import {
  Writes,
  addMonths,
  eventTypesText,
  experimentOf,
  firedSince,
  firingOf,
  mergeLive,
  nextFireTime,
  parseTime,
  recurrenceText,
  targetOf,
  withStatus,
  writtenBy,
} from "../src/automation";

const every = (Frequency: string, Interval: number, StartTime: string): Recurrence => ({ Frequency, Interval, StartTime, TimeZone: "UTC" });

function item(change: Partial<Automation> = {}): Automation {
  return {
    Name: "nightly",
    Description: null,
    PipelineId: null,
    PipelineEndpointId: null,
    PipelineEndpointName: "compare-endpoint",
    PipelineVersion: null,
    Request: { ExperimentName: "nightly" },
    EntityStatus: 0,
    Etag: "e",
    CreatedDate: "2026-11-01T00:00:00.000000+00:00",
    LastModifiedDate: "2026-11-01T00:00:00.000000+00:00",
    CreatedBy: null,
    LastModifiedBy: null,
    LastFiredTime: null,
    LastRunId: null,
    LastError: null,
    SkippedCount: 0,
    ...change,
  };
}

describe("a recurrence in words", () => {
  it("says how often, at what time of day (UTC) and from when", () => {
    const start = "2026-12-01T02:00:00+00:00"; // a Tuesday
    expect(recurrenceText(every("Minute", 1, start))).toBe("Every minute, starting 1 Dec 2026, 02:00 UTC");
    expect(recurrenceText(every("Minute", 5, start))).toBe("Every 5 minutes, starting 1 Dec 2026, 02:00 UTC");
    expect(recurrenceText(every("Hour", 1, "2026-12-01T02:30:15.250000+00:00"))).toBe("Every hour, starting 1 Dec 2026, 02:30:15 UTC");
    expect(recurrenceText(every("Day", 1, start))).toBe("Every day at 02:00 UTC, starting 1 Dec 2026");
    expect(recurrenceText(every("Day", 2, start))).toBe("Every 2 days at 02:00 UTC, starting 1 Dec 2026");
    expect(recurrenceText(every("Week", 1, start))).toBe("Every week on Tuesday at 02:00 UTC, starting 1 Dec 2026");
    expect(recurrenceText(every("Week", 3, start))).toBe("Every 3 weeks on Tuesday at 02:00 UTC, starting 1 Dec 2026");
    expect(recurrenceText(every("Month", 1, start))).toBe("Every month on the 1st at 02:00 UTC, starting 1 Dec 2026");
    expect(recurrenceText(every("Month", 2, "2026-01-22T00:00:00Z"))).toBe("Every 2 months on the 22nd at 00:00 UTC, starting 22 Jan 2026");
    expect(recurrenceText(every("Month", 1, "2026-01-31T09:05:00Z"))).toBe(
      "Every month on the 31st (the last day of a shorter month) at 09:05 UTC, starting 31 Jan 2026",
    );
  });

  it("reads a start time written with another offset as the same moment in UTC", () => {
    expect(recurrenceText(every("Day", 1, "2026-12-01T03:00:00+01:00"))).toBe("Every day at 02:00 UTC, starting 1 Dec 2026");
  });

  it("says what it cannot read as it is", () => {
    expect(recurrenceText(every("Fortnight", 1, "2026-12-01T02:00:00Z"))).toBe("Every 1 Fortnight");
  });
});

describe("the next fire time", () => {
  const at = (text: string) => new Date(text);

  it("is start + k × interval, the first after now (the start while it is ahead)", () => {
    const daily = every("Day", 1, "2026-12-01T02:00:00+00:00");
    expect(nextFireTime(daily, at("2026-11-20T00:00:00Z"))?.toISOString()).toBe("2026-12-01T02:00:00.000Z");
    expect(nextFireTime(daily, at("2026-12-05T01:59:59Z"))?.toISOString()).toBe("2026-12-05T02:00:00.000Z");
    expect(nextFireTime(daily, at("2026-12-05T02:00:00Z"))?.toISOString()).toBe("2026-12-06T02:00:00.000Z");
    const fiveMinutes = every("Minute", 5, "2026-12-01T00:00:00Z");
    expect(nextFireTime(fiveMinutes, at("2026-12-01T00:07:00Z"))?.toISOString()).toBe("2026-12-01T00:10:00.000Z");
  });

  it("counts calendar months from the start: the 31st, or a shorter month's last day", () => {
    const monthly = every("Month", 1, "2026-01-31T00:00:00Z");
    expect(nextFireTime(monthly, at("2026-02-01T00:00:00Z"))?.toISOString()).toBe("2026-02-28T00:00:00.000Z");
    expect(nextFireTime(monthly, at("2026-02-28T00:00:00Z"))?.toISOString()).toBe("2026-03-31T00:00:00.000Z");
    expect(nextFireTime(every("Month", 3, "2026-01-15T00:00:00Z"), at("2026-05-01T00:00:00Z"))?.toISOString()).toBe(
      "2026-07-15T00:00:00.000Z",
    );
    expect(addMonths(new Date("2028-01-31T05:00:00Z"), 1).toISOString()).toBe("2028-02-29T05:00:00.000Z");
    expect(addMonths(new Date("2026-11-30T05:00:00Z"), 14).toISOString()).toBe("2028-01-30T05:00:00.000Z");
  });

  it("is unknown for a recurrence the page cannot read", () => {
    expect(nextFireTime(every("Fortnight", 1, "2026-12-01T00:00:00Z"), at("2026-12-02T00:00:00Z"))).toBeNull();
    expect(nextFireTime(every("Day", 1, "soon"), at("2026-12-02T00:00:00Z"))).toBeNull();
  });
});

describe("what the firings did", () => {
  const error = {
    Code: "EntityDisabled",
    Message: "the pipeline p is disabled",
    Details: [],
    Time: "2026-12-02T02:00:01.123456+00:00",
    EventId: null,
    FireTime: "2026-12-02T02:00:00+00:00",
  };

  it("shows a skipped last firing as the news, with its count", () => {
    const firing = firingOf(item({ LastFiredTime: "2026-12-02T02:00:00.000000+00:00", LastError: error, SkippedCount: 1 }));
    expect(firing).toMatchObject({ lastSkipped: true, skipped: 1, runId: null });
    expect(firing.error?.Code).toBe("EntityDisabled");
  });

  it("keeps an earlier skip as history once a later firing started a run", () => {
    const firing = firingOf(item({ LastFiredTime: "2026-12-03T02:00:00+00:00", LastRunId: "r2", LastError: error, SkippedCount: 1 }));
    expect(firing).toMatchObject({ lastSkipped: false, skipped: 1, runId: "r2" });
  });

  it("matches a trigger's skip by the moment its event came", () => {
    const skipped = { ...error, FireTime: null, EventId: "ev-1", Time: "2026-12-02T10:00:00.654321+00:00" };
    expect(firingOf(item({ LastFiredTime: "2026-12-02T10:00:00.654321+00:00", LastError: skipped })).lastSkipped).toBe(true);
    expect(firingOf(item({ LastFiredTime: "2026-12-02T10:05:00+00:00", LastError: skipped })).lastSkipped).toBe(false);
    expect(firingOf(item()).lastSkipped).toBe(false);
  });

  it("reads the wire's microseconds", () => {
    expect(parseTime("2026-12-02T10:00:00.654321+00:00")?.toISOString()).toBe("2026-12-02T10:00:00.654Z");
    expect(parseTime(null)).toBeNull();
  });
});

describe("who, what and where", () => {
  it("names the last writer by name, else by object id", () => {
    expect(writtenBy(item({ LastModifiedBy: { UserObjectId: "oid", UserTenantId: "t", UserName: "Alice" } }))).toBe("Alice");
    expect(writtenBy(item({ LastModifiedBy: { UserObjectId: "oid", UserTenantId: "t", UserName: null } }))).toBe("oid");
    expect(writtenBy(item())).toBeNull();
  });

  it("names the target: an endpoint by name or id, at a version, or a pipeline", () => {
    expect(targetOf(item())).toEqual({ kind: "endpoint", name: "compare-endpoint", version: null });
    expect(targetOf(item({ PipelineEndpointName: null, PipelineEndpointId: "e1", PipelineVersion: "2" }))).toEqual({
      kind: "endpointId",
      id: "e1",
      version: "2",
    });
    expect(targetOf(item({ PipelineEndpointName: null, PipelineId: "p1" }))).toEqual({ kind: "pipeline", id: "p1" });
  });

  it("says the experiment, or that the service picks it", () => {
    expect(experimentOf(item())).toBe("nightly");
    expect(experimentOf(item({ Request: {} }))).toBeNull();
    expect(eventTypesText([])).toBe("Any event type");
    expect(eventTypesText(["Microsoft.Storage.BlobCreated", "Microsoft.Storage.BlobDeleted"])).toBe(
      "Microsoft.Storage.BlobCreated, Microsoft.Storage.BlobDeleted",
    );
  });

  it("changes only the status when it disables or enables (the entity as read goes back)", () => {
    const read = item({ LastError: null, SkippedCount: 3, Description: "kept" });
    expect(withStatus(read, 2)).toEqual({ ...read, EntityStatus: 2 });
    expect(read.EntityStatus).toBe(0);
  });
});

describe("who may change them", () => {
  it("takes Publish and Submit both (or Admin) to write one", () => {
    expect(actionsOf(["Pipelines.Admin"]).has("automate")).toBe(true);
    expect(actionsOf(["Pipelines.Publish", "Pipelines.Submit"]).has("automate")).toBe(true);
    expect(actionsOf(["Pipelines.Publish"]).has("automate")).toBe(false);
    expect(actionsOf(["Pipelines.Submit"]).has("automate")).toBe(false);
    expect([...actionsOf(["Pipelines.Read"])]).toEqual(["read"]);
  });
});

describe("the list read again while the view is open", () => {
  const names = (items: Automation[]) => items.map((i) => i.Name);
  const fired = { LastFiredTime: "2026-12-02T02:00:00.000000+00:00", LastRunId: "run-2" };

  it("takes the service's list: a fired one's last run, new ones in, gone ones out", () => {
    const shown = [item({ Name: "a" }), item({ Name: "b" }), item({ Name: "c" })];
    const fresh = [item({ Name: "a", ...fired }), item({ Name: "c" }), item({ Name: "d" })];
    const merged = mergeLive(shown, fresh, new Set());
    expect(names(merged)).toEqual(["a", "c", "d"]);
    expect(merged[0].LastRunId).toBe("run-2");
    expect(names(firedSince(shown, fresh))).toEqual(["a"]);
  });

  it("leaves an item with a disable, enable or delete under way as it is shown, in its place", () => {
    const shown = [item({ Name: "a" }), item({ Name: "b", EntityStatus: 2 }), item({ Name: "c" })];
    // b is being enabled (the read still has it disabled) and c deleted (the read no longer has it)
    const fresh = [item({ Name: "a", ...fired }), item({ Name: "b", EntityStatus: 0, SkippedCount: 1 })];
    const merged = mergeLive(shown, fresh, new Set(["b", "c"]));
    expect(names(merged)).toEqual(["a", "b", "c"]);
    expect(merged[0].LastRunId).toBe("run-2");
    expect(merged[1]).toBe(shown[1]);
    expect(merged[2]).toBe(shown[2]);
  });

  it("drops a read that overlapped the start or end of a write, and names what is under way", () => {
    const writes = new Writes();
    const before = writes.mark;
    const ended = writes.begin("schedule", "nightly");
    expect(writes.since(before)).toBe(true); // a read begun before the click: dropped
    expect([...writes.names("schedule")]).toEqual(["nightly"]);
    expect([...writes.names("trigger")]).toEqual([]);
    const during = writes.mark;
    expect(writes.since(during)).toBe(false); // begun and answered while it is under way: kept, nightly as shown
    ended();
    expect(writes.since(during)).toBe(true); // answered after its answer: dropped (it may hold the old state)
    expect([...writes.names("schedule")]).toEqual([]);
  });

  it("does not count a firing the list has not seen before, or a schedule that has never fired", () => {
    expect(firedSince([item({ Name: "a" })], [item({ Name: "a" }), item({ Name: "b", ...fired })])).toEqual([]);
  });
});
