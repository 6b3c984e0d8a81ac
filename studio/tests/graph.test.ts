import { describe, expect, it } from "vitest";
import { NODE_HEIGHT, NODE_WIDTH, inferParents, layoutGraph } from "../src/graph";

function ninetyNine() {
  // 9 stages of 11 steps: each step follows the same step of the stage before, and its first.
  const steps = [];
  for (let stage = 0; stage < 9; stage++) {
    for (let i = 0; i < 11; i++) {
      const parents = stage === 0 ? [] : [`s${stage - 1}_${i}`, ...(i ? [`s${stage - 1}_0`] : [])];
      steps.push({ id: `s${stage}_${i}`, name: `stage ${stage} step ${i}`, parents });
    }
  }
  return steps;
}

describe("the step graph", () => {
  it("lays 99 steps out left to right without overlaps", () => {
    const layout = layoutGraph(ninetyNine());
    expect(layout.nodes).toHaveLength(99);
    const byId = new Map(layout.nodes.map((n) => [n.id, n]));
    for (const edge of layout.edges) expect(byId.get(edge.from)!.x).toBeLessThan(byId.get(edge.to)!.x);
    for (const a of layout.nodes) {
      expect(a.width).toBe(NODE_WIDTH);
      expect(a.height).toBe(NODE_HEIGHT);
      for (const b of layout.nodes) {
        if (a === b) continue;
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart).toBe(true);
      }
    }
    expect(layout.width).toBeGreaterThan(layout.height); // 9 columns, wider than tall
  });

  it("is the same layout every time", () => {
    expect(layoutGraph(ninetyNine())).toEqual(layoutGraph(ninetyNine()));
  });

  it("infers parents from inputs named like other steps' outputs", () => {
    expect(
      inferParents({
        a: { inputs: [], outputs: ["x"] },
        b: { inputs: ["x"], outputs: ["y"] },
        c: { inputs: ["x", "y", "external"], outputs: [] },
      }),
    ).toEqual({ a: [], b: ["a"], c: ["a", "b"] });
  });

  it("lists the steps in reading order: layer by layer, top to bottom", () => {
    const steps = ninetyNine().reverse();
    const layout = layoutGraph(steps);
    for (let i = 1; i < layout.nodes.length; i++) {
      const [a, b] = [layout.nodes[i - 1], layout.nodes[i]];
      expect(a.x < b.x || (a.x === b.x && a.y <= b.y)).toBe(true);
    }
    expect(layout.nodes[0].id.startsWith("s0_")).toBe(true);
  });
});
