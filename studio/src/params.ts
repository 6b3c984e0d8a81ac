// A published pipeline's parameters as form fields, and the submit body the form sends
// (docs/contract.md §2). Pure functions: tested in studio/tests/params.test.ts.

import type { DataAssignment, ErrorDetail, Pipeline } from "./api";

export type ParamType = "int" | "float" | "bool" | "string" | "dataset" | "datapath";

export interface Param {
  name: string;
  type: ParamType;
  /** True when the type was read off the default's text, not declared by the API. */
  inferred: boolean;
  /** A scalar's default as the API shows it ("10", "True"); a data parameter's, in words. */
  defaultText: string;
  dataDefault?: DataAssignment;
}

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$/;

/** The published defaults are text ("10", "0.5", "True"): their form says their type. */
export function inferType(text: string): ParamType {
  if (text === "True" || text === "False") return "bool";
  if (INT.test(text)) return "int";
  if (FLOAT.test(text)) return "float";
  return "string";
}

export function describeData(value: DataAssignment | undefined): string {
  if (!value) return "—";
  if (value.DataSetReference) {
    const ref = value.DataSetReference;
    if (ref.Name) return `dataset ${ref.Name}${ref.Version ? ` version ${ref.Version}` : " (latest)"}`;
    return `dataset ${ref.Id ?? "?"}`;
  }
  if (value.SavedDataSetReference) return `dataset ${value.SavedDataSetReference.Id}`;
  if (value.LiteralValue) return `${value.LiteralValue.DataStoreName ?? "?"}/${value.LiteralValue.RelativePath ?? ""}`;
  return JSON.stringify(value);
}

export function parametersOf(pipeline: Pipeline): Param[] {
  const declared = pipeline.ParameterTypes ?? {};
  const scalars = Object.entries(pipeline.ParameterAssignments ?? {}).map(([name, text]): Param => {
    const type = declared[name] as ParamType | undefined;
    return { name, type: type ?? inferType(text), inferred: !type, defaultText: text };
  });
  const data = Object.entries(pipeline.DataSetDefinitionValueAssignments ?? {}).map(([name, value]): Param => ({
    name,
    type: value.LiteralValue ? "datapath" : "dataset",
    inferred: false,
    defaultText: describeData(value),
    dataDefault: value,
  }));
  return [...scalars, ...data].sort((a, b) => a.name.localeCompare(b.name));
}

export interface Tag {
  key: string;
  value: string;
}

export interface FormValues {
  experiment: string;
  description: string;
  /** Scalars as typed; a value equal to the default is not sent. */
  scalars: Record<string, string>;
  /** A dataset's "name:version" (or "id:<id>"); "" keeps the default. */
  datasets: Record<string, string>;
  /** A datapath's store and path; an empty store keeps the default. */
  datapaths: Record<string, { store: string; path: string }>;
  tags: Tag[];
}

/**
 * The experiment a run goes to when the form names none: the pipeline's name made valid,
 * as the service makes it (pipelines/runs/experiments.py default_experiment_name).
 */
export function defaultExperimentName(pipelineName: string | null | undefined): string {
  // One "_" per character outside [A-Za-z0-9_-] (a character, not a UTF-16 unit, as in Python).
  const cleaned = Array.from(pipelineName ?? "", (c) => (/^[A-Za-z0-9_-]$/.test(c) ? c : "_"))
    .join("")
    .slice(0, 255);
  if (!cleaned || !/^[A-Za-z0-9]/.test(cleaned)) return cleaned ? `pipeline_${cleaned}`.slice(0, 255) : "pipeline-runs";
  return cleaned;
}

export function initialValues(params: Param[], experiment: string): FormValues {
  const scalars: Record<string, string> = {};
  const datasets: Record<string, string> = {};
  const datapaths: Record<string, { store: string; path: string }> = {};
  for (const param of params) {
    if (param.type === "dataset") datasets[param.name] = "";
    else if (param.type === "datapath") datapaths[param.name] = { store: "", path: "" };
    else scalars[param.name] = param.defaultText;
  }
  return { experiment, description: "", scalars, datasets, datapaths, tags: [] };
}

/** The submit body: only what differs from the published defaults, plus experiment and tags. */
export function submitBody(params: Param[], values: FormValues): Record<string, unknown> {
  const body: Record<string, unknown> = { RunSource: "Studio" };
  if (values.experiment.trim()) body.ExperimentName = values.experiment.trim();
  if (values.description.trim()) body.Description = values.description.trim();
  const assignments: Record<string, string> = {};
  const datasets: Record<string, unknown> = {};
  const datapaths: Record<string, unknown> = {};
  for (const param of params) {
    if (param.type === "dataset") {
      const chosen = values.datasets[param.name] ?? "";
      if (chosen.startsWith("id:")) datasets[param.name] = { SavedDataSetReference: { Id: chosen.slice(3) } };
      else if (chosen) {
        const at = chosen.lastIndexOf(":");
        datasets[param.name] = { DataSetReference: { Name: chosen.slice(0, at), Version: chosen.slice(at + 1) } };
      }
    } else if (param.type === "datapath") {
      const chosen = values.datapaths[param.name];
      if (chosen && chosen.store) datapaths[param.name] = { DataStoreName: chosen.store, RelativePath: chosen.path };
    } else {
      const value = values.scalars[param.name];
      if (value !== undefined && value !== param.defaultText) assignments[param.name] = value;
    }
  }
  if (Object.keys(assignments).length) body.ParameterAssignments = assignments;
  if (Object.keys(datasets).length) body.DataSetDefinitionValueAssignments = datasets;
  if (Object.keys(datapaths).length) body.DataPathAssignments = datapaths;
  const tags = values.tags.filter((tag) => tag.key.trim());
  if (tags.length) body.Tags = Object.fromEntries(tags.map((tag) => [tag.key.trim(), tag.value]));
  return body;
}

/** The form field an error's Target names: "param:<name>", "experiment", "description", "tags". */
export function fieldOf(target: string | null | undefined, params: Param[]): string | null {
  if (!target) return null;
  const names = new Set(params.map((param) => param.name));
  const lowered = target.toLowerCase();
  if (lowered === "experimentname") return "experiment";
  if (lowered === "description") return "description";
  if (lowered.startsWith("tags")) return "tags";
  const dot = target.indexOf(".");
  const name = dot >= 0 && /assignments$/i.test(target.slice(0, dot)) ? target.slice(dot + 1) : target;
  return names.has(name) ? `param:${name}` : null;
}

/** Field id to messages; errors that name no field go under "" (shown above the form). */
export function fieldErrors(message: string, target: string | null, details: ErrorDetail[], params: Param[]): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  const add = (field: string | null, text: string) => {
    const key = field ?? "";
    found[key] = [...(found[key] ?? []), text];
  };
  const listed = details.length ? details : [{ Code: "", Message: message, Target: target }];
  for (const detail of listed) add(fieldOf(detail.Target, params), detail.Message);
  return found;
}
