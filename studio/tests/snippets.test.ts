import { describe, expect, it } from "vitest";
import type { Param } from "../src/params";
import { exampleBody, snippet } from "../src/snippets";

const params: Param[] = [
  { name: "pipeline_arg", type: "int", inferred: true, defaultText: "10" },
  { name: "rate", type: "float", inferred: true, defaultText: "0.5" },
  { name: "flag", type: "bool", inferred: true, defaultText: "False" },
  { name: "note", type: "string", inferred: true, defaultText: "it's \"quoted\"" },
  { name: "data", type: "dataset", inferred: false, defaultText: "dataset sales" },
];
const url = "http://127.0.0.1:7071/pipelines/v1.0/x/PipelineRuns/PipelineSubmit/abc";

describe("calls to copy", () => {
  it("send every scalar parameter at its default, typed", () => {
    expect(exampleBody("exp", params)).toEqual({
      ExperimentName: "exp",
      ParameterAssignments: { pipeline_arg: 10, rate: 0.5, flag: false, note: 'it\'s "quoted"' },
    });
  });

  it("carry the same body in every language", () => {
    const body = exampleBody("exp", params);
    const curl = snippet("curl", url, body);
    expect(curl).toContain(`curl -s -X POST "${url}"`);
    expect(curl).toContain("it'\\''s"); // the shell's quoting of a single quote
    expect(snippet("python", url, body)).toContain('"flag": False,');
    const java = snippet("java", url, body);
    expect(java).toContain('String body = """');
    expect(java).toContain('"pipeline_arg": 10');
    const csharp = snippet("csharp", url, body);
    expect(csharp).toContain('""note"": ""it\'s \\""quoted\\""""');
    for (const language of ["curl", "python", "java", "csharp"] as const) expect(snippet(language, url, body)).toContain(url);
  });
});
