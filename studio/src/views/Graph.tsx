// The step graph (left to right, each step coloured and worded by its status) and the
// timeline of step times. Steps are real buttons: Tab reaches them, Enter opens one.

import { useMemo, useState } from "preact/hooks";
import type { TaskStatus } from "../api";
import { duration, label, span, stepWord, tone } from "../format";
import type { Layout } from "../graph";
import { layoutGraph } from "../graph";

export interface StepView {
  id: string;
  name: string;
  status: TaskStatus;
  word: string;
  parents: string[];
}

const ZOOMS = [0.5, 0.75, 1, 1.25];

export function StepGraph({ steps, selected, onSelect }: { steps: StepView[]; selected: string | null; onSelect: (id: string) => void }) {
  const shape = steps.map((s) => `${s.id}<${s.parents.join(",")}`).join(";");
  const layout: Layout = useMemo(() => layoutGraph(steps), [shape]);
  const [zoom, setZoom] = useState(2);
  const scale = ZOOMS[zoom];
  const byId = new Map(steps.map((s) => [s.id, s]));
  const counts = steps.reduce<Record<string, number>>((found, s) => ({ ...found, [label(s.word)]: (found[label(s.word)] ?? 0) + 1 }), {});
  return (
    <div class="graph">
      <div class="graph-tools">
        <p class="graph-summary" aria-live="polite">
          {Object.entries(counts)
            .map(([word, n]) => `${n} ${word.toLowerCase()}`)
            .join(", ")}
        </p>
        <div role="group" aria-label="Zoom" class="zoom">
          <button type="button" class="button small" disabled={zoom === 0} onClick={() => setZoom(zoom - 1)}>
            Zoom out
          </button>
          <span class="muted">{Math.round(scale * 100)}%</span>
          <button type="button" class="button small" disabled={zoom === ZOOMS.length - 1} onClick={() => setZoom(zoom + 1)}>
            Zoom in
          </button>
        </div>
      </div>
      <div class="graph-scroll" tabIndex={0} role="region" aria-label={`Step graph of ${steps.length} steps, left to right`}>
        <div class="graph-sizer" style={{ width: `${layout.width * scale}px`, height: `${layout.height * scale}px` }}>
          <div class="graph-canvas" style={{ width: `${layout.width}px`, height: `${layout.height}px`, transform: `scale(${scale})` }}>
            <svg class="graph-edges" width={layout.width} height={layout.height} aria-hidden="true" focusable="false">
              <defs>
                <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
                  <path d="M 0 0 L 10 5 L 0 10 z" class="arrow-head" />
                </marker>
              </defs>
              {layout.edges.map((edge) => (
                <path key={`${edge.from}-${edge.to}`} class="edge" marker-end="url(#arrow)" d={edge.points.map((p, i) => `${i ? "L" : "M"} ${p.x} ${p.y}`).join(" ")} />
              ))}
            </svg>
            {layout.nodes.map((node) => {
              const step = byId.get(node.id);
              if (!step) return null;
              const word = label(step.word);
              const reused = step.status.ReuseInfo;
              const time = reused ? "reused" : step.status.StartTime ? duration(step.status.StartTime, step.status.EndTime) : "";
              return (
                <button
                  key={node.id}
                  type="button"
                  data-step={node.id}
                  class={`node tone-${tone(step.word)}${selected === node.id ? " selected" : ""}`}
                  style={{ left: `${node.x}px`, top: `${node.y}px`, width: `${node.width}px`, height: `${node.height}px` }}
                  aria-pressed={selected === node.id}
                  title={`${step.name}: ${word}${reused ? `, reused from run ${reused.PipelineRunId}` : ""}`}
                  onClick={() => onSelect(node.id)}
                >
                  <span class="node-name">{step.name}</span>
                  <span class="node-status">
                    <span class="badge-mark" aria-hidden="true" />
                    {word}
                    {time ? ` · ${time}` : ""}
                  </span>
                </button>
              );
            })}
          </div>
        </div>
      </div>
    </div>
  );
}

export function Timeline({ steps, now }: { steps: StepView[]; now: number }) {
  const dated = steps.filter((s) => s.status.StartTime || s.status.ScheduleTime || s.status.CreationTime);
  if (dated.length === 0) return <p class="state empty">No step has started yet.</p>;
  const at = (value: string | null | undefined) => (value ? new Date(value).getTime() : NaN);
  const starts = dated.map((s) => at(s.status.ScheduleTime ?? s.status.StartTime ?? s.status.CreationTime));
  const ends = dated.map((s) => (s.status.EndTime ? at(s.status.EndTime) : s.status.StartTime ? now : at(s.status.ScheduleTime ?? s.status.CreationTime)));
  const first = Math.min(...starts.filter(Number.isFinite));
  const last = Math.max(...ends.filter(Number.isFinite), first + 1000);
  const total = last - first;
  const pct = (value: number) => `${(((value - first) / total) * 100).toFixed(3)}%`;
  // Started steps by their start, then those still waiting, by name.
  const startOf = (s: StepView) => (s.status.StartTime ? at(s.status.StartTime) : Number.POSITIVE_INFINITY);
  const ordered = [...dated].sort((a, b) => startOf(a) - startOf(b) || a.name.localeCompare(b.name));
  return (
    <div class="gantt">
      <div class="gantt-axis" aria-hidden="true">
        <span>0 s</span>
        <span>{span(total / 2)}</span>
        <span>{span(total)}</span>
      </div>
      <div class="gantt-scroll" tabIndex={0} role="region" aria-label={`Step times over ${span(total)}`}>
      <ol class="gantt-rows">
        {ordered.map((step) => {
          const queued = at(step.status.ScheduleTime ?? step.status.CreationTime);
          const started = at(step.status.StartTime);
          const ended = step.status.EndTime ? at(step.status.EndTime) : now;
          const word = label(stepWord(step.status.StatusCode, step.word));
          const text = Number.isFinite(started)
            ? `started after ${span(started - first)}, ran ${span(ended - started)}`
            : "waiting to start";
          return (
            <li class="gantt-row" key={step.id}>
              <span class="gantt-name" title={step.name}>
                {step.name}
              </span>
              <span class="gantt-track">
                {Number.isFinite(queued) && Number.isFinite(started) && started > queued && (
                  <span class="gantt-wait" style={{ left: pct(queued), width: pct(first + (started - queued)) }} />
                )}
                {Number.isFinite(started) && (
                  <span class={`gantt-bar tone-${tone(step.word)}`} style={{ left: pct(started), width: pct(first + Math.max(ended - started, total / 400)) }} />
                )}
                <span class="visually-hidden">
                  {word}, {text}
                </span>
              </span>
            </li>
          );
        })}
      </ol>
      </div>
    </div>
  );
}
