// Submit a run to a pipeline endpoint, wait for it, and download one step's output.
//
// A caller of the re-hosted Azure ML SDK v1 published pipelines, in the style of
// the samples of Microsoft's published-pipeline guide: HttpClient and Newtonsoft.Json,
// one file, C# 6 (Mono's mcs and any .NET SDK compile it). README.md next to this
// file says how to build and run it.
//
// Exit codes: 0 done, 1 a request failed, 2 bad arguments, 3 the run ended Failed or Canceled.

using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Net;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Text;
using System.Threading;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

public class PublishedPipelineCaller
{
    const long PartBytes = 8L * 1024 * 1024;
    static readonly string[] FinalStatuses = { "Completed", "Failed", "Canceled" };

    // Every option: its command-line name, its environment variable, and its default (null: required).
    static readonly string[][] Options =
    {
        new[] { "--host", "PIPELINES_BASE_URL", null },
        new[] { "--token-url", "PIPELINES_TOKEN_URL", null },
        new[] { "--client-id", "AZURE_CLIENT_ID", null },
        new[] { "--client-secret", "AZURE_CLIENT_SECRET", null },
        new[] { "--scope", "PIPELINES_SCOPE", null },
        new[] { "--subscription-id", "PIPELINES_SUBSCRIPTION_ID", null },
        new[] { "--resource-group", "PIPELINES_RESOURCE_GROUP", null },
        new[] { "--workspace", "PIPELINES_WORKSPACE", null },
        new[] { "--endpoint-id", "PIPELINES_ENDPOINT_ID", null },
        new[] { "--experiment", "PIPELINES_EXPERIMENT", null },
        new[] { "--parameters", "PIPELINES_PARAMETERS", "{}" },
        new[] { "--step", "PIPELINES_STEP", null },
        new[] { "--output", "PIPELINES_OUTPUT", null },
        new[] { "--download-dir", "PIPELINES_DOWNLOAD_DIR", null },
        new[] { "--poll-seconds", "PIPELINES_POLL_SECONDS", "2" },
        new[] { "--timeout-seconds", "PIPELINES_TIMEOUT_SECONDS", "86400" },
    };

    /// <summary>A failure already explained to the user; Main prints the message and exits with the code.</summary>
    class Failure : Exception
    {
        public readonly int ExitCode;

        public Failure(int exitCode, string message) : base(message)
        {
            ExitCode = exitCode;
        }
    }

    readonly Dictionary<string, string> options;
    readonly HttpClient http;
    readonly Uri host;
    string accessToken;
    DateTime tokenExpiresAtUtc;

    PublishedPipelineCaller(Dictionary<string, string> options)
    {
        this.options = options;
        host = new Uri(options["--host"].TrimEnd('/'));
        // No "Expect: 100-continue" round trip before each POST (.NET Framework and Mono send it by default).
        ServicePointManager.Expect100Continue = false;
        http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        http.Timeout = TimeSpan.FromMinutes(5);
        http.DefaultRequestHeaders.ExpectContinue = false;
    }

    public static int Main(string[] args)
    {
        if (args.Length == 1 && (args[0] == "--help" || args[0] == "-h"))
        {
            Console.Write(Usage());
            return 0;
        }
        try
        {
            new PublishedPipelineCaller(ParseOptions(args)).Run();
            return 0;
        }
        catch (Failure failure)
        {
            Console.Error.WriteLine("error: " + failure.Message);
            return failure.ExitCode;
        }
        catch (Exception error)
        {
            // HttpRequestException, IOException, a timeout: the innermost message says most.
            Console.Error.WriteLine("error: " + error.GetBaseException().Message);
            return 1;
        }
    }

    static Dictionary<string, string> ParseOptions(string[] args)
    {
        var given = new Dictionary<string, string>();
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            string value = null;
            int equals = name.IndexOf('=');
            if (name.StartsWith("--") && equals > 0)
            {
                value = name.Substring(equals + 1);
                name = name.Substring(0, equals);
            }
            if (!Options.Any(option => option[0] == name))
            {
                throw new Failure(2, "unknown option " + name + "\n" + Usage());
            }
            if (value == null)
            {
                if (i + 1 >= args.Length)
                {
                    throw new Failure(2, name + " needs a value\n" + Usage());
                }
                value = args[++i];
            }
            given[name] = value;
        }
        var result = new Dictionary<string, string>();
        var missing = new StringBuilder();
        foreach (string[] option in Options)
        {
            string value;
            if (!given.TryGetValue(option[0], out value))
            {
                value = Environment.GetEnvironmentVariable(option[1]);
            }
            if (string.IsNullOrEmpty(value))
            {
                value = option[2];
            }
            if (value == null)
            {
                missing.Append(" " + option[0] + " (or " + option[1] + ")");
            }
            result[option[0]] = value;
        }
        if (missing.Length > 0)
        {
            throw new Failure(2, "missing:" + missing + "\n" + Usage());
        }
        return result;
    }

    static string Usage()
    {
        var text = new StringBuilder("usage: mono PublishedPipelineCaller.exe [--option value | --option=value]...\n");
        foreach (string[] option in Options)
        {
            text.AppendFormat("  {0,-18} env {1,-26} {2}\n", option[0], option[1],
                option[2] == null ? "(required)" : "(default " + option[2] + ")");
        }
        return text.ToString();
    }

    // -- the steps ---------------------------------------------------------------------------------

    void Run()
    {
        string subscriptionScope = "/subscriptions/" + Segment("--subscription-id")
            + "/resourceGroups/" + Segment("--resource-group")
            + "/providers/Microsoft.MachineLearningServices/workspaces/" + Segment("--workspace");
        string root = host.GetLeftPart(UriPartial.Path).TrimEnd('/');
        string pipelinesScope = root + "/pipelines/v1.0" + subscriptionScope;
        string historyScope = root + "/history/v1.0" + subscriptionScope;

        // 1. a token, by OAuth2 client credentials
        Token();

        // 2. submit
        JToken parameters;
        try
        {
            parameters = ParseJson(options["--parameters"]);
        }
        catch (JsonException error)
        {
            throw new Failure(2, "--parameters is not JSON: " + error.Message);
        }
        if (parameters.Type != JTokenType.Object)
        {
            throw new Failure(2, "--parameters must be a JSON object, e.g. {\"pipeline_arg\": 20}");
        }
        var body = new JObject();
        body["ExperimentName"] = options["--experiment"];
        body["ParameterAssignments"] = parameters;
        var submit = Authorized(HttpMethod.Post, pipelinesScope + "/PipelineRuns/PipelineEndpointSubmit/Id/" + Segment("--endpoint-id"));
        // The service remembers this key: a resent submit answers the same run instead of a second one.
        submit.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString());
        submit.Content = new StringContent(body.ToString(Formatting.None), Encoding.UTF8, "application/json");
        JToken run = SendForJson(submit, HttpStatusCode.OK);
        string runId = (string)run["Id"];
        Console.WriteLine("submitted run " + runId);

        // 3. wait for it to end
        string status = WaitForRun(historyScope + "/runs/" + Uri.EscapeDataString(runId) + "/details");
        if (status != "Completed")
        {
            throw new Failure(3, "the run ended " + status);
        }

        // 4. the step, by name
        string stepName = options["--step"];
        var statusRequest = Authorized(HttpMethod.Post, pipelinesScope + "/PipelineRuns/" + Uri.EscapeDataString(runId) + "/Graph/AllNodes/Status");
        statusRequest.Content = new ByteArrayContent(new byte[0]);
        var nodes = (JObject)SendForJson(statusRequest, HttpStatusCode.OK);
        string nodeId = null;
        foreach (var node in nodes)
        {
            if ((string)node.Value["Name"] == stepName)
            {
                nodeId = node.Key;
            }
        }
        if (nodeId == null)
        {
            throw new Failure(1, "the run has no step named " + stepName + "; its steps: "
                + string.Join(", ", nodes.Properties().Select(node => (string)node.Value["Name"])));
        }

        // 5. the step's outputs
        var outputsRequest = Authorized(HttpMethod.Post, pipelinesScope + "/PipelineRuns/" + Uri.EscapeDataString(runId) + "/Outputs");
        outputsRequest.Content = new StringContent(new JArray(nodeId).ToString(Formatting.None), Encoding.UTF8, "application/json");
        var outputs = (JObject)SendForJson(outputsRequest, HttpStatusCode.OK);
        string outputName = options["--output"];
        if (outputs[outputName] == null)
        {
            throw new Failure(1, "step " + stepName + " has no output named " + outputName + "; its outputs: "
                + string.Join(", ", outputs.Properties().Select(output => output.Name)));
        }
        string listingUri = (string)outputs[outputName]["DataLocation"]["DataReference"]["AzureBlobReference"]["Uri"];

        // 6. and 7. list the output's files, page by page, and download each
        string folder = Path.GetFullPath(options["--download-dir"]);
        Directory.CreateDirectory(folder);
        string continuation = null;
        int count = 0;
        do
        {
            string pageUri = listingUri;
            if (continuation != null)
            {
                pageUri += (listingUri.Contains("?") ? "&" : "?") + "continuationToken=" + Uri.EscapeDataString(continuation);
            }
            JToken page = SendForJson(Authorized(HttpMethod.Get, pageUri), HttpStatusCode.OK);
            foreach (JToken file in page["Files"])
            {
                Download((string)file["Url"], (string)file["Path"], (long)file["Size"], folder);
                count++;
            }
            continuation = (string)page["ContinuationToken"];
        } while (continuation != null);
        Console.WriteLine("downloaded " + count + " file(s) of output " + outputName + " to " + folder);
    }

    string WaitForRun(string detailsUri)
    {
        var poll = TimeSpan.FromSeconds(double.Parse(options["--poll-seconds"], System.Globalization.CultureInfo.InvariantCulture));
        DateTime deadline = DateTime.UtcNow.AddSeconds(double.Parse(options["--timeout-seconds"], System.Globalization.CultureInfo.InvariantCulture));
        string last = null;
        while (true)
        {
            JToken details = SendForJson(Authorized(HttpMethod.Get, detailsUri), HttpStatusCode.OK);
            string status = (string)details["status"];
            if (status != last)
            {
                Console.WriteLine("status: " + status);
                last = status;
            }
            if (FinalStatuses.Contains(status))
            {
                if (status != "Completed")
                {
                    JToken error = details["error"];
                    Console.WriteLine("error: " + (error == null ? "null" : error.ToString(Formatting.Indented)));
                }
                return status;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new Failure(1, "the run did not end within " + options["--timeout-seconds"] + " s (last status " + status + ")");
            }
            Thread.Sleep(poll);
        }
    }

    /// <summary>One file of the listing, in parts of 8 MiB, streamed to a temporary file then moved into place.</summary>
    void Download(string url, string relativePath, long size, string folder)
    {
        string target = SafeTarget(folder, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(target));
        string partial = target + ".partial";
        try
        {
            using (var sink = new FileStream(partial, FileMode.Create, FileAccess.Write))
            {
                if (size == 0)
                {
                    using (HttpResponseMessage response = SendForStream(Authorized(HttpMethod.Get, url), HttpStatusCode.OK))
                    {
                        if (Copy(response, sink) != 0)
                        {
                            throw new Failure(1, relativePath + ": listed as empty but the download has bytes");
                        }
                    }
                }
                for (long first = 0; first < size; first += PartBytes)
                {
                    long last = Math.Min(first + PartBytes, size) - 1;
                    var request = Authorized(HttpMethod.Get, url);
                    request.Headers.Range = new RangeHeaderValue(first, last);
                    using (HttpResponseMessage response = SendForStream(request, HttpStatusCode.PartialContent))
                    {
                        long copied = Copy(response, sink);
                        if (copied != last - first + 1)
                        {
                            throw new Failure(1, relativePath + ": asked for bytes " + first + "-" + last + ", got " + copied + " bytes");
                        }
                    }
                }
            }
        }
        catch
        {
            File.Delete(partial);
            throw;
        }
        if (File.Exists(target))
        {
            File.Delete(target);
        }
        File.Move(partial, target);
        Console.WriteLine("downloaded " + relativePath + " (" + size + " bytes)");
    }

    static long Copy(HttpResponseMessage response, Stream sink)
    {
        var buffer = new byte[81920];
        long total = 0;
        using (Stream source = response.Content.ReadAsStreamAsync().GetAwaiter().GetResult())
        {
            int read;
            while ((read = source.Read(buffer, 0, buffer.Length)) > 0)
            {
                sink.Write(buffer, 0, read);
                total += read;
            }
        }
        return total;
    }

    /// <summary>Where a listed path goes under the download folder; a path that would leave it is refused.</summary>
    static string SafeTarget(string folder, string relativePath)
    {
        bool bad = string.IsNullOrEmpty(relativePath) || relativePath.StartsWith("/") || relativePath.StartsWith("\\")
            || relativePath.Contains(":") || relativePath.Contains("\0")
            || relativePath.Split('/', '\\').Any(part => part == "..");
        string target = bad ? null : Path.GetFullPath(Path.Combine(folder, relativePath));
        string inside = folder.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar;
        if (bad || !target.StartsWith(inside, StringComparison.Ordinal))
        {
            throw new Failure(1, "refusing the file path " + relativePath + ": it is not inside the download folder");
        }
        return target;
    }

    // -- HTTP --------------------------------------------------------------------------------------

    /// <summary>A bearer token by OAuth2 client credentials, asked again a few minutes before it expires.</summary>
    string Token()
    {
        if (accessToken != null && DateTime.UtcNow < tokenExpiresAtUtc)
        {
            return accessToken;
        }
        var form = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            { "grant_type", "client_credentials" },
            { "client_id", options["--client-id"] },
            { "client_secret", options["--client-secret"] },
            { "scope", options["--scope"] },
        });
        var request = new HttpRequestMessage(HttpMethod.Post, options["--token-url"]) { Content = form };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        using (HttpResponseMessage response = http.SendAsync(request).GetAwaiter().GetResult())
        {
            string text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            if (response.StatusCode != HttpStatusCode.OK)
            {
                throw new Failure(1, "token request: HTTP " + (int)response.StatusCode + " from " + options["--token-url"] + "\n" + text);
            }
            JToken answer = ParseJson(text);
            if (answer["access_token"] == null)
            {
                throw new Failure(1, "token request: no access_token in the answer");
            }
            long lifetime = answer["expires_in"] == null ? 3600 : (long)answer["expires_in"];
            accessToken = (string)answer["access_token"];
            tokenExpiresAtUtc = DateTime.UtcNow.AddSeconds(Math.Max(lifetime - 300, 30));
            return accessToken;
        }
    }

    /// <summary>A request to the service with the token. Absolute URLs from answers must point at the same host.</summary>
    HttpRequestMessage Authorized(HttpMethod method, string url)
    {
        var uri = new Uri(url);
        if (Origin(uri) != Origin(host))
        {
            // Never send the token anywhere but the service it was asked for.
            throw new Failure(1, "refusing to send the token to " + Origin(uri) + ": the service is " + Origin(host));
        }
        var request = new HttpRequestMessage(method, uri);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token());
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return request;
    }

    static string Origin(Uri uri)
    {
        return uri.Scheme.ToLowerInvariant() + "://" + uri.Host.ToLowerInvariant() + ":" + uri.Port;
    }

    JToken SendForJson(HttpRequestMessage request, HttpStatusCode expected)
    {
        using (HttpResponseMessage response = http.SendAsync(request).GetAwaiter().GetResult())
        {
            string text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            if (response.StatusCode != expected)
            {
                throw ServiceFailure(request, response.StatusCode, text);
            }
            return ParseJson(text);
        }
    }

    HttpResponseMessage SendForStream(HttpRequestMessage request, HttpStatusCode expected)
    {
        HttpResponseMessage response = http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult();
        if (response.StatusCode != expected)
        {
            using (response)
            {
                throw ServiceFailure(request, response.StatusCode, response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
            }
        }
        return response;
    }

    /// <summary>The status, the Code and Message of the service's error JSON
    /// ({"Error": {"Code", "Message", "Target", "Details"}, "Correlation": {"RequestId"}}), and the body.</summary>
    static Failure ServiceFailure(HttpRequestMessage request, HttpStatusCode status, string body)
    {
        var text = new StringBuilder(request.Method + " " + request.RequestUri + ": HTTP " + (int)status);
        try
        {
            JToken error = ParseJson(body)["Error"];
            text.Append("\n" + (string)error["Code"] + ": " + (string)error["Message"]);
        }
        catch (Exception)
        {
            // not the service's error JSON: the body says what happened
        }
        text.Append("\n" + body);
        return new Failure(1, text.ToString());
    }

    /// <summary>JSON as it is: no date conversion of strings that look like dates.</summary>
    static JToken ParseJson(string text)
    {
        using (var reader = new JsonTextReader(new StringReader(text)))
        {
            reader.DateParseHandling = DateParseHandling.None;
            return JToken.ReadFrom(reader);
        }
    }

    string Segment(string option)
    {
        return Uri.EscapeDataString(options[option]);
    }
}
