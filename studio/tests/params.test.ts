import { describe, expect, it } from "vitest";
import type { Pipeline } from "../src/api";
import { defaultExperimentName, fieldErrors, fieldOf, inferType, initialValues, parametersOf, submitBody } from "../src/params";

const pipeline = {
  Id: "p",
  Name: "P",
  ParameterAssignments: { pipeline_arg: "10", rate: "0.5", flag: "True", label: "hello" },
  DataSetDefinitionValueAssignments: {
    data: { DataSetReference: { Id: null, Name: "sales", Version: null } },
    where: { LiteralValue: { DataStoreName: "workspaceblobstore", RelativePath: "in/a.csv" } },
  },
} as unknown as Pipeline;

describe("parameters", () => {
  it("reads the types off the published defaults", () => {
    expect(inferType("10")).toBe("int");
    expect(inferType("-3")).toBe("int");
    expect(inferType("0.5")).toBe("float");
    expect(inferType("1e+20")).toBe("float");
    expect(inferType("True")).toBe("bool");
    expect(inferType("true")).toBe("string");
    expect(inferType("abc")).toBe("string");
    const params = parametersOf(pipeline);
    expect(params.map((p) => [p.name, p.type])).toEqual([
      ["data", "dataset"],
      ["flag", "bool"],
      ["label", "string"],
      ["pipeline_arg", "int"],
      ["rate", "float"],
      ["where", "datapath"],
    ]);
  });

  it("prefers the types the API declares", () => {
    const declared = { ...pipeline, ParameterTypes: { pipeline_arg: "string" } } as Pipeline;
    const arg = parametersOf(declared).find((p) => p.name === "pipeline_arg");
    expect(arg?.type).toBe("string");
    expect(arg?.inferred).toBe(false);
  });

  it("sends only what changed, with the experiment and tags", () => {
    const params = parametersOf(pipeline);
    const values = initialValues(params, "exp");
    expect(submitBody(params, values)).toEqual({ RunSource: "Studio", ExperimentName: "exp" });
    values.scalars.pipeline_arg = "20";
    values.datasets.data = "sales:3";
    values.datapaths.where = { store: "other", path: "b.csv" };
    values.tags = [{ key: "team", value: "ml" }, { key: " ", value: "ignored" }];
    expect(submitBody(params, values)).toEqual({
      RunSource: "Studio",
      ExperimentName: "exp",
      ParameterAssignments: { pipeline_arg: "20" },
      DataSetDefinitionValueAssignments: { data: { DataSetReference: { Name: "sales", Version: "3" } } },
      DataPathAssignments: { where: { DataStoreName: "other", RelativePath: "b.csv" } },
      Tags: { team: "ml" },
    });
  });

  it("puts the API's 400 next to the field its target names", () => {
    const params = parametersOf(pipeline);
    expect(fieldOf("ParameterAssignments.pipeline_arg", params)).toBe("param:pipeline_arg");
    expect(fieldOf("DataPathAssignments.where", params)).toBe("param:where");
    expect(fieldOf("pipeline_arg", params)).toBe("param:pipeline_arg");
    expect(fieldOf("ExperimentName", params)).toBe("experiment");
    expect(fieldOf("Tags.team", params)).toBe("tags");
    expect(fieldOf("ParameterAssignments.nope", params)).toBeNull();
    const errors = fieldErrors("first", "ParameterAssignments.pipeline_arg", [
      { Code: "InvalidParameter", Message: "expects an integer", Target: "ParameterAssignments.pipeline_arg" },
      { Code: "InvalidParameter", Message: "'nope' is not a parameter", Target: "ParameterAssignments.nope" },
    ], params);
    expect(errors).toEqual({ "param:pipeline_arg": ["expects an integer"], "": ["'nope' is not a parameter"] });
  });
});

describe("the default experiment", () => {
  it("is the pipeline's name made valid, as the service makes it", () => {
    expect(defaultExperimentName("Daily scoring v1.0")).toBe("Daily_scoring_v1_0");
    expect(defaultExperimentName("My_Published_Pipeline")).toBe("My_Published_Pipeline");
    expect(defaultExperimentName("_private")).toBe("pipeline__private");
    expect(defaultExperimentName("été 😀")).toBe("pipeline__t___");
    expect(defaultExperimentName("")).toBe("pipeline-runs");
    expect(defaultExperimentName(null)).toBe("pipeline-runs");
    expect(defaultExperimentName("x".repeat(300))).toHaveLength(255);
  });
});
