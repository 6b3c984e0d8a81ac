// The step graph, laid out left to right by dagre (@dagrejs/dagre): the page draws it
// as SVG (views/Graph.tsx), so every step is a focusable, labelled element.

import { Graph, layout } from "@dagrejs/dagre";

export interface StepNode {
  id: string;
  name: string;
  parents: string[];
}

export interface Placed {
  id: string;
  x: number; // left
  y: number; // top
  width: number;
  height: number;
}

export interface Edge {
  from: string;
  to: string;
  points: { x: number; y: number }[];
}

export interface Layout {
  width: number;
  height: number;
  nodes: Placed[];
  edges: Edge[];
}

export const NODE_WIDTH = 224;
export const NODE_HEIGHT = 44;
const MARGIN = 16;

export function layoutGraph(steps: StepNode[]): Layout {
  const graph = new Graph({ multigraph: false });
  graph.setGraph({ rankdir: "LR", nodesep: 14, ranksep: 56, marginx: MARGIN, marginy: MARGIN });
  graph.setDefaultEdgeLabel(() => ({}));
  const known = new Set(steps.map((step) => step.id));
  for (const step of steps) graph.setNode(step.id, { width: NODE_WIDTH, height: NODE_HEIGHT });
  for (const step of steps) {
    for (const parent of step.parents) if (known.has(parent) && parent !== step.id) graph.setEdge(parent, step.id);
  }
  layout(graph);
  // In reading order, layer by layer (left to right), top to bottom within a layer: the
  // order the page draws them, so Tab follows the graph.
  const nodes = steps
    .map((step): Placed => {
      const node = graph.node(step.id) as { x: number; y: number; width: number; height: number };
      return { id: step.id, x: node.x - node.width / 2, y: node.y - node.height / 2, width: node.width, height: node.height };
    })
    .sort((a, b) => a.x - b.x || a.y - b.y);
  const edges = graph.edges().map((edge): Edge => {
    const label = graph.edge(edge) as { points?: { x: number; y: number }[] };
    return { from: edge.v, to: edge.w, points: label.points ?? [] };
  });
  const size = graph.graph() as { width?: number; height?: number };
  return { width: Math.ceil(size.width ?? 0), height: Math.ceil(size.height ?? 0), nodes, edges };
}

/**
 * The steps each step waits for, from what the steps read and write: a step that reads
 * an input named like another step's output follows that step. Used when the API's step
 * statuses do not name their parents (see docs/studio.md).
 */
export function inferParents(io: Record<string, { inputs: string[]; outputs: string[] }>): Record<string, string[]> {
  const producers = new Map<string, string[]>();
  for (const [id, step] of Object.entries(io)) {
    for (const output of step.outputs) producers.set(output, [...(producers.get(output) ?? []), id]);
  }
  const parents: Record<string, string[]> = {};
  for (const [id, step] of Object.entries(io)) {
    const found = new Set<string>();
    for (const input of step.inputs) for (const producer of producers.get(input) ?? []) if (producer !== id) found.add(producer);
    parents[id] = [...found].sort();
  }
  return parents;
}
