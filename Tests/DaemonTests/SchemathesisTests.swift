import Foundation
import ResmonAPI
import ResmonTestSupport
import Testing

/// schemathesis (PyPI, installed into .build/schemathesis-venv by `make test`) fuzzes a real
/// resmond over loopback TCP from the document it serves at /v1/openapi.json: every operation
/// with generated parameters and bodies, the bearer token on each request so that writes are
/// tried too. No answer may be a 5xx, or have a status, content type or body the document does
/// not give that operation; afterwards resmond still answers and its RSS stays bounded.
@Suite struct SchemathesisTests {
    static var schemathesis: String { Products.packageRoot() + "/.build/schemathesis-venv/bin/st" }
    /// Examples per operation: bounded for make test (about 2 minutes on a busy 2-core machine);
    /// `make schemathesis-long` sets many more.
    static var examples: Int { ProcessInfo.processInfo.environment["SCHEMATHESIS_EXAMPLES"].flatMap { Int($0) } ?? 25 }

    @Test(.enabled(if: getuid() == 0, "the token file must be root's, as resmond requires"))
    func schemathesisFindsNothingAgainstTheDocumentResmondServes() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.schemathesis),
            "no schemathesis at \(Self.schemathesis): run `make schemathesis-deps` (make test does)")
        let secrets = TemporaryDirectory("resmon-schemathesis-token")
        let token = "schemathesis-token-0123456789"
        try secrets.write("token", token + "\n")
        chmod(secrets.file("token"), 0o600)
        let daemon = try DaemonHarness(
            arguments: ["--listen", "127.0.0.1:0", "--step", "1"],
            configuration: #"{"http": {"tokenFile": "\#(secrets.file("token"))"}}"#)
        let listen = try #require(try daemon.client.status().listen)
        // The monitors the document's examples name (DELETE's is load-low), and some history, so
        // that those operations answer as they do in use as well as with errors.
        let specs = ["load-high", "load-low"].map { id in
            var spec = MonitorSpec(target: "load:host:load1", condition: .above, value: 64)
            spec.id = id
            spec.dataCapture = true
            return spec
        }
        _ = try daemon.client.createMonitors(specs)
        try daemon.waitForCycles(3)
        let result = try Products.run(
            Self.schemathesis,
            [
                "run", "http://\(listen)/v1/openapi.json", "--base-url", "http://\(listen)",
                "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--hypothesis-max-examples", String(Self.examples), "--hypothesis-database", ":memory:",
                "--hypothesis-suppress-health-check", "all", "--hypothesis-deadline", "None",
                "--header", "Authorization: Bearer \(token)", "--request-timeout", "20000",
                // A connection per request: resmond closes a kept-alive connection idle for
                // http.headerSeconds (5 s), and a request sent as it does so is never answered;
                // Hypothesis, generating on a busy machine, can pause that long between two.
                "--header", "Connection: close",
                // Positive and negative data: bodies and parameters the document refuses too.
                "--data-generation-method", "all", "--generation-allow-x00", "true",
                // An event stream's answer lasts until the client closes it: EventStreamTests test it.
                "--exclude-path", "/v1/events/stream",
                "--no-color", "--show-trace"
            ],
            // Hypothesis keeps caches in ./.hypothesis unless told otherwise: not in the source tree.
            environment: ["SCHEMATHESIS_TELEMETRY": "false", "HOME": secrets.path, "HYPOTHESIS_STORAGE_DIRECTORY": secrets.file("hypothesis")],
            timeout: Double(max(1800, Self.examples * 8)))
        let summary = result.output.split(separator: "\n").suffix(60).joined(separator: "\n")
        print("schemathesis (\(Self.examples) examples per operation):\n\(summary)")
        #expect(result.status == 0, "schemathesis found something:\n\(result.output.suffix(20_000))\n\(result.error.suffix(3000))")
        #expect(result.output.contains("not_a_server_error"), "\(summary)")
        // resmond is alive, and the run did not leave it holding memory without bound.
        #expect(try daemon.client.health().status == "ok")
        let resident = try daemon.client.status().residentBytes
        #expect(resident < 256 * 1_048_576, "RSS \(resident / 1_048_576) MB after the run")
        #expect(daemon.process.isRunning)
    }
}
