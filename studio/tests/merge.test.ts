import { describe, expect, it } from "vitest";
import type { Page } from "../src/merge";
import { Merged, Watermarks, mergeFresh, unlisted } from "../src/merge";

/** A paged list, newest first (bigger is newer), `size` a page; some pages may be empty. */
function source(values: number[], size: number, asked: string[] = [], name = "") {
  return async (token: string | null): Promise<Page<number>> => {
    const at = token ? Number(token) : 0;
    asked.push(`${name}${at}`);
    const next = at + size < values.length ? String(at + size) : null;
    return { items: values.slice(at, at + size), next };
  };
}

const newest = (a: number, b: number) => b - a;

describe("runs of every experiment, newest first", () => {
  it("merges the lists a page at a time", async () => {
    const merged = new Merged([source([9, 6, 3, 1], 2), source([8, 7, 2], 2), source([], 2)], newest);
    expect(await merged.more(3)).toEqual([9, 8, 7]);
    expect(merged.done).toBe(false);
    expect(await merged.more(3)).toEqual([6, 3, 2]);
    expect(await merged.more(3)).toEqual([1]);
    expect(merged.done).toBe(true);
    expect(await merged.more(3)).toEqual([]);
  });

  it("reads on past an empty page that still has a continuation", async () => {
    const pages: Record<string, Page<number>> = { "": { items: [], next: "a" }, a: { items: [5, 4], next: null } };
    const merged = new Merged([async (t) => pages[t ?? ""], source([3], 5)], newest);
    expect(await merged.more(10)).toEqual([5, 4, 3]);
  });

  it("asks each list only for what it needs", async () => {
    const asked: string[] = [];
    const merged = new Merged([source([10, 9, 8, 7, 6, 5], 2, asked, "a"), source([1], 2, asked, "b")], newest);
    expect(await merged.more(2)).toEqual([10, 9]);
    expect(asked).toEqual(["a0", "b0"]);
  });
});

describe("new runs while the list is open", () => {
  interface Row {
    id: string;
    at: number; // bigger is newer
    status: string;
  }
  const row = (id: string, at: number, status = "Running"): Row => ({ id, at, status });
  const id = (r: Row) => r.id;
  const newer = (a: Row, b: Row) => b.at - a.at;

  it("go in at the top; listed runs take their fresh state; older runs already loaded stay", () => {
    // 3 runs of the first page and 2 that "Older runs" loaded
    const listed = [row("c", 30), row("b", 20), row("a", 10), row("y", 5, "Completed"), row("x", 4, "Completed")];
    // the first page read again: two new runs, and c and b as they are now
    const fresh = [row("e", 50), row("d", 40), row("c", 30, "Completed"), row("b", 20)];
    const { rows, added } = mergeFresh(listed, fresh, id, newer);
    expect(rows.map((r) => r.id)).toEqual(["e", "d", "c", "b", "a", "y", "x"]);
    expect(rows[2].status).toBe("Completed");
    expect(added.map((r) => r.id)).toEqual(["e", "d"]);
  });

  it("add nothing when nothing is new, and keep a run seen twice once", () => {
    const listed = [row("b", 20), row("a", 10)];
    expect(mergeFresh(listed, [row("b", 20), row("b", 20)], id, newer)).toEqual({ rows: listed, added: [] });
    expect(mergeFresh([], [row("a", 10), row("b", 20)], id, newer).rows.map(id)).toEqual(["b", "a"]);
  });

  it("an older page answers again what the grown list already shows: listed once", () => {
    expect(unlisted([row("c", 30), row("b", 20)], [row("b", 20), row("a", 10), row("a", 10)], id).map(id)).toEqual(["a"]);
  });

  it("read again only the experiments whose last run changed, twice, then not", () => {
    const marks = new Watermarks([
      { name: "one", lastCreatedRunUtc: "t1" },
      { name: "two", lastCreatedRunUtc: null },
    ]);
    const same = [
      { name: "one", lastCreatedRunUtc: "t1" },
      { name: "two", lastCreatedRunUtc: null },
    ];
    expect(marks.changed(same)).toEqual([]);
    const now = [
      { name: "one", lastCreatedRunUtc: "t2" },
      { name: "two", lastCreatedRunUtc: null },
      { name: "three", lastCreatedRunUtc: "t3" }, // a new experiment
    ];
    const first = marks.changed(now);
    expect(first.map((e) => e.name)).toEqual(["one", "three"]);
    marks.read(first);
    const second = marks.changed(now); // once more: the run may not have been readable yet
    expect(second.map((e) => e.name)).toEqual(["one", "three"]);
    marks.read(second);
    expect(marks.changed(now)).toEqual([]);
  });
});
