// Calls a team can copy: the same submit in curl, Python, Java and C#, with this
// pipeline's parameters in the body (docs/contract.md §2). The token comes from the
// environment variable TOKEN; docs/deploy.md says how to get one.

import type { Param } from "./params";

export type Language = "curl" | "python" | "java" | "csharp";
export const LANGUAGES: { id: Language; name: string }[] = [
  { id: "curl", name: "curl" },
  { id: "python", name: "Python" },
  { id: "java", name: "Java" },
  { id: "csharp", name: "C#" },
];

/** The body a caller sends: the experiment and every scalar parameter at its default. */
export function exampleBody(experiment: string, params: Param[]): Record<string, unknown> {
  const assignments: Record<string, unknown> = {};
  for (const param of params) {
    if (param.type === "int") assignments[param.name] = Number.parseInt(param.defaultText, 10);
    else if (param.type === "float") assignments[param.name] = Number.parseFloat(param.defaultText);
    else if (param.type === "bool") assignments[param.name] = param.defaultText === "True";
    else if (param.type === "string") assignments[param.name] = param.defaultText;
  }
  const body: Record<string, unknown> = { ExperimentName: experiment };
  if (Object.keys(assignments).length) body.ParameterAssignments = assignments;
  return body;
}

export function snippet(language: Language, url: string, body: Record<string, unknown>): string {
  const json = JSON.stringify(body, null, 2);
  switch (language) {
    case "curl":
      return [
        `curl -s -X POST "${url}" \\`,
        `  -H "Authorization: Bearer $TOKEN" \\`,
        `  -H "Content-Type: application/json" \\`,
        `  -d '${json.replace(/'/g, "'\\''")}'`,
      ].join("\n");
    case "python":
      return [
        "import os",
        "",
        "import requests",
        "",
        `url = ${pythonString(url)}`,
        `body = ${pythonLiteral(body, 0)}`,
        'response = requests.post(url, json=body, headers={"Authorization": f"Bearer {os.environ[\'TOKEN\']}"}, timeout=60)',
        "response.raise_for_status()",
        'print(response.json()["Id"])  # the run id',
      ].join("\n");
    case "java":
      return [
        "import java.net.URI;",
        "import java.net.http.HttpClient;",
        "import java.net.http.HttpRequest;",
        "import java.net.http.HttpResponse;",
        "",
        "public class Submit {",
        "    public static void main(String[] args) throws Exception {",
        '        String body = """',
        ...json.split("\n").map((line) => `            ${line.replace(/\\/g, "\\\\")}`),
        '            """;',
        "        HttpRequest request = HttpRequest.newBuilder()",
        `            .uri(URI.create(${javaString(url)}))`,
        '            .header("Authorization", "Bearer " + System.getenv("TOKEN"))',
        '            .header("Content-Type", "application/json")',
        "            .POST(HttpRequest.BodyPublishers.ofString(body))",
        "            .build();",
        "        HttpResponse<String> response = HttpClient.newHttpClient()",
        "            .send(request, HttpResponse.BodyHandlers.ofString());",
        "        if (response.statusCode() != 200) throw new RuntimeException(response.body());",
        "        System.out.println(response.body());  // the run, with its Id",
        "    }",
        "}",
      ].join("\n");
    case "csharp":
      return [
        "using System;",
        "using System.Net.Http;",
        "using System.Net.Http.Headers;",
        "using System.Text;",
        "",
        "var client = new HttpClient();",
        'client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Environment.GetEnvironmentVariable("TOKEN"));',
        `var body = @"${json.replace(/"/g, '""')}";`,
        "var response = await client.PostAsync(",
        `    ${csharpString(url)},`,
        '    new StringContent(body, Encoding.UTF8, "application/json"));',
        "response.EnsureSuccessStatusCode();",
        "Console.WriteLine(await response.Content.ReadAsStringAsync());  // the run, with its Id",
      ].join("\n");
  }
}

function pythonString(text: string): string {
  return JSON.stringify(text);
}

function pythonLiteral(value: unknown, depth: number): string {
  const pad = "    ".repeat(depth + 1);
  const end = "    ".repeat(depth);
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null || value === undefined) return "None";
  if (typeof value === "number" || typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item) => pythonLiteral(item, depth + 1)).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>);
  if (!entries.length) return "{}";
  return `{\n${entries.map(([k, v]) => `${pad}${JSON.stringify(k)}: ${pythonLiteral(v, depth + 1)},`).join("\n")}\n${end}}`;
}

function javaString(text: string): string {
  return JSON.stringify(text);
}

function csharpString(text: string): string {
  return JSON.stringify(text);
}
