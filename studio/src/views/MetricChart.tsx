// A metric logged several times, as a line (uPlot, loaded only when a chart is shown).

import { useEffect, useRef, useState } from "preact/hooks";

export function MetricChart({ name, values }: { name: string; values: number[] }) {
  const box = useRef<HTMLDivElement>(null);
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    let chart: { destroy(): void } | null = null;
    let stopped = false;
    void Promise.all([import("uplot"), import("uplot/dist/uPlot.min.css")])
      .then(([{ default: UPlot }]) => {
        if (stopped || !box.current) return;
        const width = Math.max(240, Math.min(720, box.current.clientWidth || 480));
        const xs = values.map((_, i) => i + 1);
        chart = new UPlot(
          {
            width,
            height: 200,
            legend: { show: false },
            cursor: { show: true },
            scales: { x: { time: false } },
            axes: [
              { label: "logged", stroke: "#374151", grid: { stroke: "#e5e7eb" } },
              { stroke: "#374151", grid: { stroke: "#e5e7eb" } },
            ],
            series: [{}, { label: name, stroke: "#1d4ed8", width: 2, points: { show: values.length < 60 } }],
          },
          [xs, values],
          box.current,
        );
      })
      .catch(() => setFailed(true));
    return () => {
      stopped = true;
      chart?.destroy();
    };
  }, [name, values.join(",")]);
  const low = Math.min(...values);
  const high = Math.max(...values);
  return (
    <figure class="chart">
      <div ref={box} role="img" aria-label={`${name}: ${values.length} values from ${low} to ${high}, last ${values[values.length - 1]}`} />
      <figcaption>
        {name}, {values.length} values{failed ? " (the chart did not load; the table has every value)" : ""}
      </figcaption>
    </figure>
  );
}
