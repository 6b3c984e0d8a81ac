import { describe, expect, it } from "vitest";
import { pollLoop, whileVisible } from "../src/poll";

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

describe("a check while the page is open", () => {
  it("asks at most once per interval, nothing while the tab is hidden, and at once when it is shown again", async () => {
    const clock = fakeClock();
    const controller = new AbortController();
    const asked: number[] = [];
    let visible = true;
    const run = async () => {
      asked.push(clock.now());
      clock.advance(200);
      if (asked.length === 2) visible = false; // hidden after the second check
      if (asked.length === 4) controller.abort();
    };
    const shown = async () => {
      clock.advance(60_000); // a minute hidden
      visible = true;
    };
    await whileVisible({ run, interval: 5000, signal: controller.signal, since: 0, visible: () => visible, shown, now: clock.now, sleep: clock.sleep });
    expect(asked[0]).toBe(5000); // the first load counts as a check
    expect(asked[1] - asked[0]).toBeGreaterThanOrEqual(5000);
    expect(asked[2]).toBe(asked[1] + 200 + 60_000); // hidden: nothing; shown: at once, the interval long past
    expect(asked[3] - asked[2]).toBeGreaterThanOrEqual(5000);
    expect(asked).toHaveLength(4);
  });

  it("goes on after a failed check", async () => {
    const clock = fakeClock();
    const controller = new AbortController();
    let calls = 0;
    const run = async () => {
      calls++;
      if (calls === 3) controller.abort();
      throw new Error("no answer");
    };
    await whileVisible({ run, interval: 5000, signal: controller.signal, visible: () => true, now: clock.now, sleep: clock.sleep });
    expect(calls).toBe(3);
  });
});
