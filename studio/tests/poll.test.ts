import { describe, expect, it } from "vitest";
import { pollLoop } from "../src/poll";

/** A clock that only moves when the loop sleeps: the test sees every request's time. */
function fakeClock() {
  let now = 0;
  return {
    now: () => now,
    sleep: async (ms: number) => {
      now += ms;
    },
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("live updates", () => {
  it("ask at most once a second, in turns, and stop when nothing is active", async () => {
    const clock = fakeClock();
    const asked: [string, number][] = [];
    let active = 5; // the run ends after five status reads
    let logOpen = true;
    const jobs = () => [
      ...(active > 0 ? [{ name: "steps", run: async () => void (asked.push(["steps", clock.now()]), clock.advance(120), active--) }] : []),
      ...(logOpen && active > 0 ? [{ name: "log", run: async () => void (asked.push(["log", clock.now()]), clock.advance(300)) }] : []),
    ];
    setTimeout(() => (logOpen = false), 0);
    await pollLoop({ jobs, interval: 1000, signal: new AbortController().signal, now: clock.now, sleep: clock.sleep, since: 0 });
    const times = asked.map(([, t]) => t);
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(1000);
    expect(times[0]).toBeGreaterThanOrEqual(1000); // the first load counts as a request
    expect(asked.filter(([name]) => name === "steps")).toHaveLength(5);
  });

  it("stops at once when the page leaves", async () => {
    const clock = fakeClock();
    const controller = new AbortController();
    let calls = 0;
    const jobs = () => [{ name: "steps", run: async () => void (calls++, calls === 3 && controller.abort()) }];
    await pollLoop({ jobs, interval: 1000, signal: controller.signal, now: clock.now, sleep: clock.sleep });
    expect(calls).toBe(3);
  });
});
