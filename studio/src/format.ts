// Words, colours and numbers: one status vocabulary for runs and steps.

// Run StatusCode (docs/contract.md §3) and step TaskStatus StatusCode, as words.
const RUN_WORDS = ["NotStarted", "Running", "Failed", "Finished", "Canceled"];
const STEP_WORDS = ["NotStarted", "Queued", "Running", "Failed", "Finished", "Canceled", "PartiallyExecuted", "Bypassed"];

// The run-history family says Completed where the pipelines family says Finished.
export type Tone = "idle" | "queued" | "running" | "done" | "failed" | "canceled";

const TONES: Record<string, Tone> = {
  notstarted: "idle",
  queued: "queued",
  running: "running",
  finished: "done",
  completed: "done",
  bypassed: "done",
  failed: "failed",
  partiallyexecuted: "failed",
  canceled: "canceled",
  cancelrequested: "canceled",
};

const LABELS: Record<string, string> = {
  notstarted: "Not started",
  queued: "Queued",
  running: "Running",
  finished: "Finished",
  completed: "Finished",
  bypassed: "Bypassed",
  failed: "Failed",
  partiallyexecuted: "Partly run",
  canceled: "Canceled",
  cancelrequested: "Canceling",
};

export function runWord(code: number): string {
  return RUN_WORDS[code] ?? "Unknown";
}

export function stepWord(code: number, word?: string | null): string {
  return word || STEP_WORDS[code] || "Unknown";
}

export function tone(word: string): Tone {
  return TONES[word.toLowerCase()] ?? "idle";
}

export function label(word: string): string {
  return LABELS[word.toLowerCase()] ?? word;
}

export function ended(word: string): boolean {
  return ["done", "failed"].includes(tone(word)) || word.toLowerCase() === "canceled";
}

export function entityStatus(value: number): string {
  return ["Active", "Deprecated", "Disabled"][value] ?? String(value);
}

export function time(value: string | null | undefined): string {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function duration(start: string | null | undefined, end: string | null | undefined, now = Date.now()): string {
  if (!start) return "—";
  const from = new Date(start).getTime();
  const to = end ? new Date(end).getTime() : now;
  return span(Math.max(0, to - from));
}

export function span(ms: number): string {
  const seconds = Math.round(ms / 100) / 10;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  if (value < 1024) return `${value} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let size = value / 1024;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(size < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * The end of a log that fits in `limit` bytes (UTF-8, as the log is stored), its whole
 * size in bytes, and whether the start was cut. The cut never splits a character.
 */
export function logTail(text: string, limit: number): { shown: string; size: number; cut: boolean } {
  const encoded = new TextEncoder().encode(text);
  if (encoded.length <= limit) return { shown: text, size: encoded.length, cut: false };
  let start = encoded.length - limit;
  while (start < encoded.length && (encoded[start] & 0xc0) === 0x80) start += 1; // not inside a character
  return { shown: new TextDecoder().decode(encoded.subarray(start)), size: encoded.length, cut: true };
}

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(0, 8) : id;
}
