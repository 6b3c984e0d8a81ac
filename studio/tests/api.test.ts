import { afterEach, describe, expect, it, vi } from "vitest";
import { Api, ApiError } from "../src/api";

const address = { subscriptionId: "s", resourceGroup: "g", name: "default" };
const tokens = { token: async () => "t", expired: () => false };

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("the API client", () => {
  it("follows x-ms-continuation to list every pipeline", async () => {
    const urls: string[] = [];
    vi.stubGlobal("fetch", async (url: string) => {
      urls.push(url);
      const second = url.includes("continuationToken=p2");
      const items = Array.from({ length: second ? 5 : 100 }, (_, i) => ({ Id: `${second ? 100 + i : i}` }));
      return new Response(JSON.stringify(items), { headers: second ? {} : { "x-ms-continuation": "p2" } });
    });
    const found = await new Api(address, tokens).pipelines(true);
    expect(found.items).toHaveLength(105);
    expect(urls).toHaveLength(2);
    expect(urls[1]).toContain("top=100&continuationToken=p2");
  });

  it("reads a whole log in ranges, as long as Content-Range says it is", async () => {
    const log = new Uint8Array(8 * 1024 * 1024 + 3).fill(120);
    const ranges: string[] = [];
    vi.stubGlobal("fetch", async (_url: string, init: RequestInit) => {
      const range = (init.headers as Record<string, string>).Range;
      ranges.push(range);
      const [first, last] = range.replace("bytes=", "").split("-").map(Number);
      const end = Math.min(last, log.length - 1);
      return new Response(log.slice(first, end + 1), {
        status: 206,
        headers: { "Content-Range": `bytes ${first}-${end}/${log.length}` },
      });
    });
    const file = await new Api(address, tokens).logFile("r", "n", "STDOUT", 2);
    expect(file.size).toBe(log.length);
    expect(ranges).toEqual([`bytes=0-${8 * 1024 * 1024 - 1}`, `bytes=${8 * 1024 * 1024}-${16 * 1024 * 1024 - 1}`]);
  });

  it("reads an empty log as an empty file (the route answers 416: no byte to give)", async () => {
    vi.stubGlobal("fetch", async () =>
      new Response(JSON.stringify({ Error: { Code: "RangeNotSatisfiable", Message: "empty" } }), { status: 416 }));
    expect((await new Api(address, tokens).logFile("r", "n", "STDERR")).size).toBe(0);
  });

  it("gives up on a service that does not answer: a network error", async () => {
    vi.useFakeTimers();
    vi.stubGlobal(
      "fetch",
      (_url: string, init: RequestInit) =>
        new Promise((_resolve, reject) => init.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")))),
    );
    const answer = new Api(address, tokens).pipeline("p").catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(30_000);
    const error = await answer;
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).kind).toBe("network");
  });
});
