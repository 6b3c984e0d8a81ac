// The run form: one field per published parameter (by its type and default), the
// experiment and tags. The service checks the values; its 400 names the field
// (Error.Target, Details[].Target) and the message is shown beside that field.

import { useEffect, useRef, useState } from "preact/hooks";
import type { Dataset, Datastore, Endpoint, Pipeline } from "../api";
import { ApiError } from "../api";
import type { FormValues, Param } from "../params";
import { defaultExperimentName, fieldErrors, initialValues, parametersOf, submitBody } from "../params";
import { link, navigate } from "../router";
import { ErrorBox, Heading, Link, Loading, useLoad, useStudio } from "./common";

interface Target {
  pipeline: Pipeline;
  endpoint: Endpoint | null;
  version: string | null;
}

export function RunForm({ endpointName, pipelineId, version }: { endpointName?: string; pipelineId?: string; version: string | null }) {
  const { api, workspace } = useStudio();
  const target = useLoad(async (): Promise<Target> => {
    if (endpointName) {
      const endpoint = await api.endpointByName(endpointName);
      const chosen = version ?? endpoint.DefaultVersion;
      const entry = endpoint.PipelineVersionList.find((v) => v.Version === chosen);
      if (!entry) throw new ApiError("notfound", `the endpoint has no version ${chosen}`, 404);
      return { pipeline: await api.pipeline(entry.PipelineId), endpoint, version: chosen };
    }
    return { pipeline: await api.pipeline(pipelineId ?? ""), endpoint: null, version: null };
  }, [endpointName, pipelineId, version]);

  if (target.loading && !target.data) return <Loading what="the pipeline's parameters" />;
  if (target.error || !target.data) return <ErrorBox error={target.error} retry={target.reload} />;
  const { pipeline, endpoint } = target.data;
  const back = endpoint
    ? link("endpoint", { ws: workspace, name: endpoint.Name })
    : link("pipeline", { ws: workspace, id: pipeline.Id });
  const title = `Run ${endpoint ? endpoint.Name : pipeline.Name ?? pipeline.Id}`;
  return (
    <>
      <Heading title={title}>{title}</Heading>
      <p class="lead">
        <Link href={back}>Back to {endpoint ? "the endpoint" : "the pipeline"}</Link>
      </p>
      <Form key={`${pipeline.Id}:${target.data.version}`} target={target.data} />
    </>
  );
}

function Form({ target }: { target: Target }) {
  const { api, workspace } = useStudio();
  const { pipeline, endpoint, version } = target;
  const params = parametersOf(pipeline);
  // What was typed is kept for the tab's life (a sign-in that expires mid-form loses nothing).
  const draftKey = `studio.runForm.${endpoint ? `endpoint.${endpoint.Id}.${version}` : `pipeline.${pipeline.Id}`}`;
  const [values, setValues] = useState<FormValues>(() => restoreDraft(draftKey) ?? initialValues(params, ""));
  useEffect(() => sessionStorage.setItem(draftKey, JSON.stringify(values)), [draftKey, values]);
  const [errors, setErrors] = useState<Record<string, string[]>>({});
  const [failure, setFailure] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  const needsData = params.some((p) => p.type === "dataset" || p.type === "datapath");
  const data = useLoad(
    async () => (needsData ? { datasets: (await api.datasets()).items, datastores: (await api.datastores()).items } : null),
    [needsData],
  );

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setErrors({});
    setFailure(null);
    try {
      const body = submitBody(params, values);
      const run = endpoint ? await api.submitToEndpoint(endpoint.Id, version, body) : await api.submitToPipeline(pipeline.Id, body);
      sessionStorage.removeItem(draftKey);
      navigate(link("run", { ws: workspace, runId: run.Id }));
    } catch (error) {
      if (error instanceof ApiError && error.kind === "bad") {
        const found = fieldErrors(error.message, error.target, error.details, params);
        setErrors(found);
        requestAnimationFrame(() => {
          const first = formRef.current?.querySelector<HTMLElement>("[aria-invalid='true']");
          (first ?? formRef.current?.querySelector<HTMLElement>(".form-errors"))?.focus();
        });
      } else {
        setFailure(error);
      }
    } finally {
      setBusy(false);
    }
  };

  const set = (change: Partial<FormValues>) => setValues((v) => ({ ...v, ...change }));
  const defaultExperiment = defaultExperimentName(pipeline.Name);
  const general = errors[""] ?? [];
  const count = Object.values(errors).reduce((n, list) => n + list.length, 0);

  return (
    <form ref={formRef} class="run-form" onSubmit={submit} noValidate>
      {count > 0 && (
        <div class="form-errors" role="alert" tabIndex={-1}>
          <p>
            <strong>The service refused the run:</strong> {count === 1 ? "one value needs" : `${count} values need`} changing.
          </p>
          {general.length > 0 && (
            <ul>
              {general.map((text) => (
                <li key={text}>{text}</li>
              ))}
            </ul>
          )}
        </div>
      )}
      {!!failure && <ErrorBox error={failure} />}
      {endpoint && (
        <div class="field">
          <label for="version">Version</label>
          <select
            id="version"
            value={version ?? endpoint.DefaultVersion}
            onChange={(e) => navigate(link("endpointRun", { ws: workspace, name: endpoint.Name }, { version: (e.currentTarget as HTMLSelectElement).value }), true)}
          >
            {endpoint.PipelineVersionList.map((v) => (
              <option key={v.Version} value={v.Version}>
                {v.Version}
                {v.Version === endpoint.DefaultVersion ? " (default)" : ""}
              </option>
            ))}
          </select>
        </div>
      )}
      <TextField
        id="experiment"
        label="Experiment (optional)"
        hint={`Groups runs. Left empty: ${defaultExperiment}, the pipeline's name made valid (letters, digits, _ and -).`}
        placeholder={defaultExperiment}
        value={values.experiment}
        errors={errors.experiment}
        onInput={(v) => set({ experiment: v })}
      />
      <TextField id="description" label="Description (optional)" value={values.description} errors={errors.description} onInput={(v) => set({ description: v })} />
      <fieldset>
        <legend>Parameters</legend>
        {params.length === 0 && <p class="muted">This pipeline takes no parameters.</p>}
        {params.map((param) => (
          <ParamField
            key={param.name}
            param={param}
            values={values}
            set={set}
            errors={errors[`param:${param.name}`]}
            datasets={data.data?.datasets ?? []}
            datastores={data.data?.datastores ?? []}
          />
        ))}
      </fieldset>
      <Tags values={values} set={set} errors={errors.tags} />
      <div class="form-actions">
        <button type="submit" class="button primary" disabled={busy}>
          {busy ? "Submitting…" : "Submit run"}
        </button>{" "}
        <button type="button" class="button" onClick={() => setValues(initialValues(params, ""))}>
          Reset to the defaults
        </button>
      </div>
    </form>
  );
}

/** The form's values as last typed in this tab, if any (and still of the same shape). */
function restoreDraft(key: string): FormValues | null {
  try {
    const saved = JSON.parse(sessionStorage.getItem(key) ?? "null") as FormValues | null;
    return saved && typeof saved.experiment === "string" && saved.scalars && Array.isArray(saved.tags) ? saved : null;
  } catch {
    return null;
  }
}

function describedBy(id: string, hint: boolean, errors: string[] | undefined): string | undefined {
  const ids = [hint ? `${id}-hint` : "", errors?.length ? `${id}-error` : ""].filter(Boolean);
  return ids.length ? ids.join(" ") : undefined;
}

function FieldErrors({ id, errors }: { id: string; errors?: string[] }) {
  if (!errors?.length) return null;
  return (
    <p class="field-error" id={`${id}-error`}>
      {errors.join(" ")}
    </p>
  );
}

function TextField(props: { id: string; label: string; hint?: string; placeholder?: string; value: string; errors?: string[]; inputMode?: string; onInput: (value: string) => void }) {
  const { id, hint, errors } = props;
  return (
    <div class={`field${errors?.length ? " has-error" : ""}`}>
      <label for={id}>{props.label}</label>
      {hint && (
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
      )}
      <input
        id={id}
        name={id}
        type="text"
        inputMode={props.inputMode as "numeric" | "decimal" | "text" | undefined}
        value={props.value}
        placeholder={props.placeholder}
        aria-invalid={errors?.length ? "true" : undefined}
        aria-describedby={describedBy(id, !!hint, errors)}
        onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)}
      />
      <FieldErrors id={id} errors={errors} />
    </div>
  );
}

const TYPE_HINT: Record<string, string> = {
  int: "A whole number",
  float: "A number",
  string: "Text",
  bool: "True or False",
};

function ParamField(props: {
  param: Param;
  values: FormValues;
  set: (change: Partial<FormValues>) => void;
  errors?: string[];
  datasets: Dataset[];
  datastores: Datastore[];
}) {
  const { param, values, set, errors } = props;
  const id = `param-${param.name}`;
  const hint = `${TYPE_HINT[param.type] ?? param.type}; default ${param.defaultText}.`;
  if (param.type === "bool") {
    return (
      <div class={`field${errors?.length ? " has-error" : ""}`}>
        <label for={id}>{param.name}</label>
        <p class="hint" id={`${id}-hint`}>
          {hint}
        </p>
        <select
          id={id}
          value={values.scalars[param.name]}
          aria-invalid={errors?.length ? "true" : undefined}
          aria-describedby={describedBy(id, true, errors)}
          onChange={(e) => set({ scalars: { ...values.scalars, [param.name]: (e.currentTarget as HTMLSelectElement).value } })}
        >
          <option value="True">True</option>
          <option value="False">False</option>
        </select>
        <FieldErrors id={id} errors={errors} />
      </div>
    );
  }
  if (param.type === "dataset") {
    const names = [...new Set(props.datasets.map((d) => d.Name))].sort();
    return (
      <div class={`field${errors?.length ? " has-error" : ""}`}>
        <label for={id}>{param.name}</label>
        <p class="hint" id={`${id}-hint`}>
          A registered dataset; default {param.defaultText}.
        </p>
        <select
          id={id}
          value={values.datasets[param.name]}
          aria-invalid={errors?.length ? "true" : undefined}
          aria-describedby={describedBy(id, true, errors)}
          onChange={(e) => set({ datasets: { ...values.datasets, [param.name]: (e.currentTarget as HTMLSelectElement).value } })}
        >
          <option value="">The default ({param.defaultText})</option>
          {names.map((name) => (
            <optgroup key={name} label={name}>
              {props.datasets
                .filter((d) => d.Name === name)
                .map((d) => (
                  <option key={d.Id} value={`${d.Name}:${d.Version}`}>
                    {d.Name} version {d.Version}
                  </option>
                ))}
            </optgroup>
          ))}
        </select>
        <FieldErrors id={id} errors={errors} />
      </div>
    );
  }
  if (param.type === "datapath") {
    const chosen = values.datapaths[param.name] ?? { store: "", path: "" };
    const update = (change: Partial<typeof chosen>) => set({ datapaths: { ...values.datapaths, [param.name]: { ...chosen, ...change } } });
    return (
      <fieldset class={`field datapath${errors?.length ? " has-error" : ""}`} aria-describedby={describedBy(id, true, errors)}>
        <legend>{param.name}</legend>
        <p class="hint" id={`${id}-hint`}>
          A path on a datastore; default {param.defaultText}.
        </p>
        <label for={`${id}-store`}>Datastore</label>
        <select id={`${id}-store`} value={chosen.store} aria-invalid={errors?.length ? "true" : undefined} onChange={(e) => update({ store: (e.currentTarget as HTMLSelectElement).value })}>
          <option value="">The default</option>
          {props.datastores.map((store) => (
            <option key={store.Name} value={store.Name}>
              {store.Name}
            </option>
          ))}
        </select>
        <label for={`${id}-path`}>Path on the datastore</label>
        <input id={`${id}-path`} type="text" value={chosen.path} disabled={!chosen.store} onInput={(e) => update({ path: (e.currentTarget as HTMLInputElement).value })} />
        <FieldErrors id={id} errors={errors} />
      </fieldset>
    );
  }
  return (
    <TextField
      id={id}
      label={param.name}
      hint={hint}
      value={values.scalars[param.name] ?? ""}
      errors={errors}
      inputMode={param.type === "int" ? "numeric" : param.type === "float" ? "decimal" : undefined}
      onInput={(v) => set({ scalars: { ...values.scalars, [param.name]: v } })}
    />
  );
}

function Tags({ values, set, errors }: { values: FormValues; set: (change: Partial<FormValues>) => void; errors?: string[] }) {
  const update = (index: number, change: Partial<{ key: string; value: string }>) =>
    set({ tags: values.tags.map((tag, i) => (i === index ? { ...tag, ...change } : tag)) });
  return (
    <fieldset class={errors?.length ? "has-error" : ""} aria-describedby={errors?.length ? "tags-error" : undefined}>
      <legend>Tags</legend>
      {values.tags.length === 0 && <p class="muted">No tags. Tags are copied onto the run.</p>}
      {values.tags.map((tag, index) => (
        <div class="tag-row" key={index}>
          <label for={`tag-key-${index}`}>Tag {index + 1} name</label>
          <input id={`tag-key-${index}`} type="text" value={tag.key} onInput={(e) => update(index, { key: (e.currentTarget as HTMLInputElement).value })} />
          <label for={`tag-value-${index}`}>Tag {index + 1} value</label>
          <input id={`tag-value-${index}`} type="text" value={tag.value} onInput={(e) => update(index, { value: (e.currentTarget as HTMLInputElement).value })} />
          <button type="button" class="button small" onClick={() => set({ tags: values.tags.filter((_, i) => i !== index) })} aria-label={`Remove tag ${index + 1}`}>
            Remove
          </button>
        </div>
      ))}
      <button type="button" class="button small" onClick={() => set({ tags: [...values.tags, { key: "", value: "" }] })}>
        Add a tag
      </button>
      <FieldErrors id="tags" errors={errors} />
    </fieldset>
  );
}
