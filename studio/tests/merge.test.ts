import { describe, expect, it } from "vitest";
import type { Page } from "../src/merge";
import { Merged } from "../src/merge";

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
