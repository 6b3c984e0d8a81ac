// Submit a run to a pipeline endpoint, wait for it, and download one step's output.
//
// A caller of the re-hosted Azure ML SDK v1 published pipelines, in the style of
// the samples of Microsoft's published-pipeline guide: JDK 17 java.net.http and Gson,
// one file, no other dependency. README.md next to this file says how to build and run it.
//
// Exit codes: 0 done, 1 a request failed, 2 bad arguments, 3 the run ended Failed or Canceled.

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

public class PublishedPipelineCaller {

    static final long PART_BYTES = 8L * 1024 * 1024;
    static final Set<String> FINAL_STATUSES = Set.of("Completed", "Failed", "Canceled");

    // Every option: its command-line name, its environment variable, and its default (null: required).
    static final String[][] OPTIONS = {
        {"--host", "PIPELINES_BASE_URL", null},
        {"--token-url", "PIPELINES_TOKEN_URL", null},
        {"--client-id", "AZURE_CLIENT_ID", null},
        {"--client-secret", "AZURE_CLIENT_SECRET", null},
        {"--scope", "PIPELINES_SCOPE", null},
        {"--subscription-id", "PIPELINES_SUBSCRIPTION_ID", null},
        {"--resource-group", "PIPELINES_RESOURCE_GROUP", null},
        {"--workspace", "PIPELINES_WORKSPACE", null},
        {"--endpoint-id", "PIPELINES_ENDPOINT_ID", null},
        {"--experiment", "PIPELINES_EXPERIMENT", null},
        {"--parameters", "PIPELINES_PARAMETERS", "{}"},
        {"--step", "PIPELINES_STEP", null},
        {"--output", "PIPELINES_OUTPUT", null},
        {"--download-dir", "PIPELINES_DOWNLOAD_DIR", null},
        {"--poll-seconds", "PIPELINES_POLL_SECONDS", "2"},
        {"--timeout-seconds", "PIPELINES_TIMEOUT_SECONDS", "86400"},
    };

    /** A failure already explained to the user; main prints the message and exits with the code. */
    static class Failure extends Exception {
        private static final long serialVersionUID = 1L;
        final int exitCode;

        Failure(int exitCode, String message) {
            super(message);
            this.exitCode = exitCode;
        }
    }

    final Map<String, String> options;
    final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(30))
            .followRedirects(HttpClient.Redirect.NEVER)
            .build();
    final Gson gson = new GsonBuilder().setPrettyPrinting().serializeNulls().disableHtmlEscaping().create();
    final String host;
    String accessToken;
    long tokenExpiresAtMillis;

    PublishedPipelineCaller(Map<String, String> options) {
        this.options = options;
        this.host = options.get("--host").replaceAll("/+$", "");
    }

    public static void main(String[] args) {
        if (args.length == 1 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.print(usage());
            return;
        }
        try {
            new PublishedPipelineCaller(parseOptions(args)).run();
        } catch (Failure failure) {
            System.err.println("error: " + failure.getMessage());
            System.exit(failure.exitCode);
        } catch (IOException error) {
            System.err.println("error: " + error);
            System.exit(1);
        } catch (InterruptedException error) {
            System.err.println("error: interrupted");
            System.exit(1);
        }
    }

    static Map<String, String> parseOptions(String[] args) throws Failure {
        Map<String, String> given = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String name = args[i];
            String value = null;
            int equals = name.indexOf('=');
            if (name.startsWith("--") && equals > 0) {
                value = name.substring(equals + 1);
                name = name.substring(0, equals);
            }
            if (name.equals("--help") || name.equals("-h")) {
                throw new Failure(2, usage());
            }
            if (findOption(name) == null) {
                throw new Failure(2, "unknown option " + name + "\n" + usage());
            }
            if (value == null) {
                if (i + 1 >= args.length) {
                    throw new Failure(2, name + " needs a value\n" + usage());
                }
                value = args[++i];
            }
            given.put(name, value);
        }
        Map<String, String> options = new LinkedHashMap<>();
        StringBuilder missing = new StringBuilder();
        for (String[] option : OPTIONS) {
            String value = given.get(option[0]);
            if (value == null) {
                value = System.getenv(option[1]);
            }
            if (value == null || value.isEmpty()) {
                value = option[2];
            }
            if (value == null) {
                missing.append(" ").append(option[0]).append(" (or ").append(option[1]).append(")");
            }
            options.put(option[0], value);
        }
        if (missing.length() > 0) {
            throw new Failure(2, "missing:" + missing + "\n" + usage());
        }
        return options;
    }

    static String[] findOption(String name) {
        for (String[] option : OPTIONS) {
            if (option[0].equals(name)) {
                return option;
            }
        }
        return null;
    }

    static String usage() {
        StringBuilder text = new StringBuilder("usage: java PublishedPipelineCaller [--option value | --option=value]...\n");
        for (String[] option : OPTIONS) {
            text.append(String.format("  %-18s env %-26s %s%n", option[0], option[1],
                    option[2] == null ? "(required)" : "(default " + option[2] + ")"));
        }
        return text.toString();
    }

    // -- the steps ---------------------------------------------------------------------------------

    void run() throws Failure, IOException, InterruptedException {
        String subscriptionScope = "/subscriptions/" + segment("--subscription-id")
                + "/resourceGroups/" + segment("--resource-group")
                + "/providers/Microsoft.MachineLearningServices/workspaces/" + segment("--workspace");
        String pipelinesScope = host + "/pipelines/v1.0" + subscriptionScope;
        String historyScope = host + "/history/v1.0" + subscriptionScope;

        // 1. a token, by OAuth2 client credentials
        token();

        // 2. submit
        JsonElement parameters;
        try {
            parameters = JsonParser.parseString(options.get("--parameters"));
        } catch (RuntimeException error) {
            throw new Failure(2, "--parameters is not JSON: " + error.getMessage());
        }
        if (!parameters.isJsonObject()) {
            throw new Failure(2, "--parameters must be a JSON object, e.g. {\"pipeline_arg\": 20}");
        }
        JsonObject body = new JsonObject();
        body.addProperty("ExperimentName", options.get("--experiment"));
        body.add("ParameterAssignments", parameters);
        HttpRequest submit = authorized(pipelinesScope + "/PipelineRuns/PipelineEndpointSubmit/Id/" + segment("--endpoint-id"))
                .header("Content-Type", "application/json")
                // The service remembers this key: a resent submit answers the same run instead of a second one.
                .header("Idempotency-Key", UUID.randomUUID().toString())
                .POST(HttpRequest.BodyPublishers.ofString(body.toString(), StandardCharsets.UTF_8))
                .build();
        JsonObject run = sendForJson(submit, 200).getAsJsonObject();
        String runId = run.get("Id").getAsString();
        System.out.println("submitted run " + runId);

        // 3. wait for it to end
        String status = waitForRun(historyScope + "/runs/" + encode(runId) + "/details");
        if (!status.equals("Completed")) {
            throw new Failure(3, "the run ended " + status);
        }

        // 4. the step, by name
        String stepName = options.get("--step");
        JsonObject nodes = sendForJson(authorized(pipelinesScope + "/PipelineRuns/" + encode(runId) + "/Graph/AllNodes/Status")
                .POST(HttpRequest.BodyPublishers.noBody()).build(), 200).getAsJsonObject();
        String nodeId = null;
        for (Map.Entry<String, JsonElement> node : nodes.entrySet()) {
            JsonElement name = node.getValue().getAsJsonObject().get("Name");
            if (name != null && !name.isJsonNull() && name.getAsString().equals(stepName)) {
                nodeId = node.getKey();
            }
        }
        if (nodeId == null) {
            throw new Failure(1, "the run has no step named " + stepName + "; its steps: " + stepNames(nodes));
        }

        // 5. the step's outputs
        JsonArray nodePath = new JsonArray();
        nodePath.add(nodeId);
        JsonObject outputs = sendForJson(authorized(pipelinesScope + "/PipelineRuns/" + encode(runId) + "/Outputs")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(nodePath.toString(), StandardCharsets.UTF_8)).build(), 200).getAsJsonObject();
        String outputName = options.get("--output");
        if (!outputs.has(outputName)) {
            throw new Failure(1, "step " + stepName + " has no output named " + outputName + "; its outputs: " + outputs.keySet());
        }
        String listingUri = outputs.getAsJsonObject(outputName).getAsJsonObject("DataLocation")
                .getAsJsonObject("DataReference").getAsJsonObject("AzureBlobReference").get("Uri").getAsString();

        // 6. and 7. list the output's files, page by page, and download each
        Path folder = Paths.get(options.get("--download-dir")).toAbsolutePath().normalize();
        Files.createDirectories(folder);
        String continuation = null;
        int count = 0;
        do {
            String pageUri = listingUri;
            if (continuation != null) {
                pageUri += (listingUri.contains("?") ? "&" : "?") + "continuationToken=" + URLEncoder.encode(continuation, StandardCharsets.UTF_8);
            }
            JsonObject page = sendForJson(authorized(pageUri).GET().build(), 200).getAsJsonObject();
            for (JsonElement item : page.getAsJsonArray("Files")) {
                JsonObject file = item.getAsJsonObject();
                download(file.get("Url").getAsString(), file.get("Path").getAsString(), file.get("Size").getAsLong(), folder);
                count++;
            }
            JsonElement next = page.get("ContinuationToken");
            continuation = next == null || next.isJsonNull() ? null : next.getAsString();
        } while (continuation != null);
        System.out.println("downloaded " + count + " file(s) of output " + outputName + " to " + folder);
    }

    String waitForRun(String detailsUri) throws Failure, IOException, InterruptedException {
        long pollMillis = (long) (Double.parseDouble(options.get("--poll-seconds")) * 1000);
        long deadline = System.currentTimeMillis() + Long.parseLong(options.get("--timeout-seconds")) * 1000;
        String last = null;
        while (true) {
            JsonObject details = sendForJson(authorized(detailsUri).GET().build(), 200).getAsJsonObject();
            String status = details.get("status").getAsString();
            if (!status.equals(last)) {
                System.out.println("status: " + status);
                last = status;
            }
            if (FINAL_STATUSES.contains(status)) {
                if (!status.equals("Completed")) {
                    System.out.println("error: " + gson.toJson(details.get("error")));
                }
                return status;
            }
            if (System.currentTimeMillis() > deadline) {
                throw new Failure(1, "the run did not end within " + options.get("--timeout-seconds") + " s (last status " + status + ")");
            }
            Thread.sleep(pollMillis);
        }
    }

    /** One file of the listing, in parts of 8 MiB, streamed to a temporary file then moved into place. */
    void download(String url, String relativePath, long size, Path folder) throws Failure, IOException, InterruptedException {
        Path target = safeTarget(folder, relativePath);
        Files.createDirectories(target.getParent());
        Path partial = target.resolveSibling(target.getFileName() + ".partial");
        try (OutputStream sink = Files.newOutputStream(partial)) {
            if (size == 0) {
                HttpResponse<InputStream> response = sendForStream(authorized(url).GET().build(), 200);
                try (InputStream source = response.body()) {
                    if (source.transferTo(sink) != 0) {
                        throw new Failure(1, relativePath + ": listed as empty but the download has bytes");
                    }
                }
            }
            for (long first = 0; first < size; first += PART_BYTES) {
                long last = Math.min(first + PART_BYTES, size) - 1;
                HttpResponse<InputStream> response = sendForStream(
                        authorized(url).header("Range", "bytes=" + first + "-" + last).GET().build(), 206);
                long copied;
                try (InputStream source = response.body()) {
                    copied = source.transferTo(sink);
                }
                if (copied != last - first + 1) {
                    throw new Failure(1, relativePath + ": asked for bytes " + first + "-" + last + ", got " + copied + " bytes");
                }
            }
        } catch (Failure | IOException | InterruptedException error) {
            Files.deleteIfExists(partial);
            throw error;
        }
        Files.move(partial, target, StandardCopyOption.REPLACE_EXISTING);
        System.out.println("downloaded " + relativePath + " (" + size + " bytes)");
    }

    /** Where a listed path goes under the download folder; a path that would leave it is refused. */
    static Path safeTarget(Path folder, String relativePath) throws Failure {
        boolean bad = relativePath.isEmpty() || relativePath.startsWith("/") || relativePath.startsWith("\\")
                || relativePath.contains(":") || relativePath.indexOf('\0') >= 0;
        for (String part : relativePath.split("[/\\\\]")) {
            bad |= part.equals("..");
        }
        Path target = folder.resolve(relativePath).normalize();
        if (bad || !target.startsWith(folder) || target.equals(folder)) {
            throw new Failure(1, "refusing the file path " + relativePath + ": it is not inside the download folder");
        }
        return target;
    }

    // -- HTTP --------------------------------------------------------------------------------------

    /** A bearer token by OAuth2 client credentials, asked again a few minutes before it expires. */
    String token() throws Failure, IOException, InterruptedException {
        if (accessToken != null && System.currentTimeMillis() < tokenExpiresAtMillis) {
            return accessToken;
        }
        String form = "grant_type=client_credentials"
                + "&client_id=" + URLEncoder.encode(options.get("--client-id"), StandardCharsets.UTF_8)
                + "&client_secret=" + URLEncoder.encode(options.get("--client-secret"), StandardCharsets.UTF_8)
                + "&scope=" + URLEncoder.encode(options.get("--scope"), StandardCharsets.UTF_8);
        HttpRequest request = HttpRequest.newBuilder(URI.create(options.get("--token-url")))
                .timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/x-www-form-urlencoded")
                .header("Accept", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(form, StandardCharsets.UTF_8))
                .build();
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new Failure(1, "token request: HTTP " + response.statusCode() + " from " + options.get("--token-url") + "\n" + response.body());
        }
        JsonObject answer = JsonParser.parseString(response.body()).getAsJsonObject();
        if (!answer.has("access_token")) {
            throw new Failure(1, "token request: no access_token in the answer");
        }
        long lifetime = answer.has("expires_in") ? answer.get("expires_in").getAsLong() : 3600;
        accessToken = answer.get("access_token").getAsString();
        tokenExpiresAtMillis = System.currentTimeMillis() + Math.max(lifetime - 300, 30) * 1000;
        return accessToken;
    }

    /** A request to the service with the token. Absolute URLs from answers must point at the same host. */
    HttpRequest.Builder authorized(String url) throws Failure, IOException, InterruptedException {
        URI uri = URI.create(url);
        URI base = URI.create(host);
        if (!origin(uri).equals(origin(base))) {
            // Never send the token anywhere but the service it was asked for.
            throw new Failure(1, "refusing to send the token to " + origin(uri) + ": the service is " + origin(base));
        }
        return HttpRequest.newBuilder(uri)
                .timeout(Duration.ofMinutes(5))
                .header("Authorization", "Bearer " + token())
                .header("Accept", "application/json");
    }

    static String origin(URI uri) {
        int port = uri.getPort();
        String scheme = String.valueOf(uri.getScheme()).toLowerCase(Locale.ROOT);
        if (port == -1) {
            port = scheme.equals("https") ? 443 : 80;
        }
        return scheme + "://" + String.valueOf(uri.getHost()).toLowerCase(Locale.ROOT) + ":" + port;
    }

    JsonElement sendForJson(HttpRequest request, int expected) throws Failure, IOException, InterruptedException {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != expected) {
            throw serviceFailure(request, response.statusCode(), response.body());
        }
        return JsonParser.parseString(response.body());
    }

    HttpResponse<InputStream> sendForStream(HttpRequest request, int expected) throws Failure, IOException, InterruptedException {
        HttpResponse<InputStream> response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        if (response.statusCode() != expected) {
            String body;
            try (InputStream source = response.body()) {
                body = new String(source.readNBytes(64 * 1024), StandardCharsets.UTF_8);
            }
            throw serviceFailure(request, response.statusCode(), body);
        }
        return response;
    }

    /** The status, the Code and Message of the service's error JSON
     * ({"Error": {"Code", "Message", "Target", "Details"}, "Correlation": {"RequestId"}}), and the body. */
    static Failure serviceFailure(HttpRequest request, int status, String body) {
        StringBuilder text = new StringBuilder(request.method() + " " + request.uri() + ": HTTP " + status);
        try {
            JsonObject inner = JsonParser.parseString(body).getAsJsonObject().getAsJsonObject("Error");
            text.append("\n").append(inner.get("Code").getAsString()).append(": ").append(inner.get("Message").getAsString());
        } catch (RuntimeException notTheErrorJson) {
            // not the service's error JSON: the body says what happened
        }
        text.append("\n").append(body);
        return new Failure(1, text.toString());
    }

    String segment(String option) {
        return encode(options.get(option));
    }

    static String encode(String pathSegment) {
        return URLEncoder.encode(pathSegment, StandardCharsets.UTF_8).replace("+", "%20");
    }

    static String stepNames(JsonObject nodes) {
        StringBuilder names = new StringBuilder();
        for (Map.Entry<String, JsonElement> node : nodes.entrySet()) {
            names.append(names.length() == 0 ? "" : ", ").append(node.getValue().getAsJsonObject().get("Name"));
        }
        return names.toString();
    }
}
