import Foundation
import HTTPClient
import ResmonTestSupport
import Statistics
import Testing

@testable import ResmonDaemon

@Suite struct ConfigurationTests {
    func load(_ text: String) throws -> DaemonConfiguration {
        let directory = TemporaryDirectory("resmon-config")
        try directory.write("resmond.json", text)
        var options = DaemonOptions()
        options.configDirectory = directory.path
        return try options.configuration()
    }

    func error(_ text: String) -> ConfigurationError? {
        do {
            _ = try load(text)
            return nil
        } catch {
            return error as? ConfigurationError
        }
    }

    @Test func everyKeyIsRead() throws {
        let configuration = try load(
            """
            {"stateDir": "/tmp/s", "step": 1, "cycles": 3,
             "http": {"socket": "/tmp/s/x.sock", "listen": "127.0.0.1:0", "maxRequestBytes": 2048, "threads": 3},
             "collect": {"procRoot": "/proc", "sysRoot": "/sys", "subsystems": {"disk": {"enabled": false}, "fs": {"period": 30}}},
             "limits": {"releaseStartupPages": false}}
            """)
        #expect(!configuration.releaseStartupPages)
        #expect(configuration.stateDirectory == "/tmp/s")
        #expect(configuration.step == 1 && configuration.cycles == 3)
        #expect(configuration.socketPath == "/tmp/s/x.sock")
        #expect(configuration.listen == ListenAddress(host: "127.0.0.1", port: 0))
        #expect(configuration.maxRequestBytes == 2048 && configuration.httpThreads == 3)
        #expect(configuration.subsystems["disk"]?.enabled == false)
        #expect(configuration.subsystems["fs"]?.period == 30)
    }

    /// One uid's share of the event log (issue 22): a tenth of the count unless set.
    @Test func theEventLogShareOfOneUser() throws {
        #expect(try load("{}").eventRetentionCountPerUser == nil)
        let configuration = try load(#"{"events": {"retentionCount": 5000, "retentionCountPerUser": 50}}"#)
        #expect(configuration.eventRetentionCount == 5000 && configuration.eventRetentionCountPerUser == 50)
    }

    @Test func aMissingFileMeansEmbeddedDefaults() throws {
        var options = DaemonOptions()
        options.configDirectory = TemporaryDirectory("resmon-empty").path
        let configuration = try options.configuration()
        #expect(configuration.step == 5)
        #expect(configuration.listen == ListenAddress(host: "127.0.0.1", port: 9465))
        #expect(configuration.socketPath == configuration.stateDirectory + "/resmond.sock")
        #expect(configuration.subsystems["process"]?.period == 5)
        #expect(configuration.subsystems["cgroup"]?.period == 5)
        #expect(configuration.releaseStartupPages)
    }

    @Test func flagsOverrideTheFile() throws {
        let directory = TemporaryDirectory("resmon-config")
        try directory.write("resmond.json", #"{"step": 10, "http": {"listen": "127.0.0.1:1234"}}"#)
        let options = try DaemonOptions(arguments: ["--config-dir", directory.path, "--step", "1", "--listen", "none"])
        let configuration = try options.configuration()
        #expect(configuration.step == 1)
        #expect(configuration.listen == nil)
    }

    @Test(arguments: [
        (#"{"stepp": 5}"#, "stepp", "unknown key"),
        (#"{"http": {"lisen": "x"}}"#, "http.lisen", "unknown key"),
        (#"{"step": 0}"#, "step", "out of range"),
        (#"{"step": 2.5}"#, "step", "whole number"),
        (#"{"step": "5"}"#, "step", "got a string"),
        (#"{"http": {"listen": "nowhere"}}"#, "http.listen", "HOST:PORT"),
        (#"{"http": {"listen": "127.0.0.1:70000"}}"#, "http.listen", "HOST:PORT"),
        (#"{"stateDir": "relative/dir"}"#, "stateDir", "absolute path"),
        (#"{"collect": {"subsystems": {"gpu": {}}}}"#, "collect.subsystems.gpu", "unknown key"),
        (#"{"collect": {"subsystems": {"cpu": {"enabled": "yes"}}}}"#, "collect.subsystems.cpu.enabled", "true or false"),
        (#"{"http": []}"#, "http", "expected an object"),
        (#"{"limits": {"releaseStartupPages": 1}}"#, "limits.releaseStartupPages", "true or false"),
        (#"{"events": {"retentionCountPerUser": 0}}"#, "events.retentionCountPerUser", "out of range"),
        (#"{"events": {"retentionCount": 1000, "retentionCountPerUser": 1001}}"#, "events.retentionCountPerUser", "above events.retentionCount (1000)")
    ])
    func badKeysAndValuesAreRefusedWithFileKeyAndReason(_ text: String, _ key: String, _ reason: String) throws {
        let failure = try #require(error(text))
        #expect(failure.key == key)
        #expect(failure.reason.contains(reason))
        #expect(failure.source.hasSuffix("/resmond.json"))
        #expect(failure.description.contains("resmond.json: key \(key): "))
    }

    @Test func invalidJSONIsRefusedWithTheFile() throws {
        let failure = try #require(error("{\"step\": 5,,}"))
        #expect(failure.key == nil)
        #expect(failure.description.contains("resmond.json: not valid JSON"))
    }

    @Test(arguments: [
        (["--step", "0"], "--step"), (["--step"], "needs a value"), (["--bogus"], "unknown option"),
        (["--listen", "x"], "--listen"), (["--state-dir", "rel"], "absolute path"), (["--cycles", "-1"], "--cycles")
    ])
    func badFlagsAreUsageErrors(_ arguments: [String], _ message: String) {
        #expect {
            _ = try DaemonOptions(arguments: arguments)
        } throws: { error in
            (error as? DaemonOptions.UsageError)?.message.contains(message) == true
        }
    }

    @Test func listenAddresses() {
        #expect(ListenAddress(parsing: "127.0.0.1:9465") == ListenAddress(host: "127.0.0.1", port: 9465))
        #expect(ListenAddress(parsing: "[::1]:80") == ListenAddress(host: "::1", port: 80))
        #expect(ListenAddress(parsing: "localhost:1")?.host == "127.0.0.1")
        #expect(ListenAddress(parsing: "9465") == nil)
        #expect(ListenAddress(parsing: ":9465") == nil)
    }

    @Test func checkConfigReportsThroughTheBinary() throws {
        let directory = TemporaryDirectory("resmon-check")
        try directory.write("resmond.json", #"{"http": {"threads": 99}}"#)
        let bad = try Products.run(Products.path("resmond"), ["--config-dir", directory.path, "--check-config"])
        #expect(bad.status == 1)
        #expect(bad.error.contains("resmond.json: key http.threads: 99 is out of range"))
        try directory.write("resmond.json", #"{"http": {"threads": 2}}"#)
        let good = try Products.run(Products.path("resmond"), ["--config-dir", directory.path, "--check-config"])
        #expect(good.status == 0)
        let usage = try Products.run(Products.path("resmond"), ["--frobnicate"])
        #expect(usage.status == 2)
        #expect(try Products.run(Products.path("resmond"), ["--version"]).output.hasPrefix("resmond "))
        #expect(try Products.run(Products.path("resmond"), ["--help"]).output.contains("--check-config"))
    }
}

@Suite struct PlainURLTests {
    @Test func plainHTTPURLsAreSplitAndTheRestGoThroughLibcurl() {
        typealias URL = HTTPClient.PlainURL
        #expect(URL("http://127.0.0.1:9100/metrics") == URL(host: "127.0.0.1", port: "9100", path: "/metrics"))
        #expect(URL("http://localhost/metrics?collect[]=cpu#top") == URL(host: "localhost", port: "80", path: "/metrics?collect[]=cpu"))
        #expect(URL("http://[::1]:9100") == URL(host: "::1", port: "9100", path: "/"))
        #expect(URL("http://host:1?x=1") == URL(host: "host", port: "1", path: "/?x=1"))
        for libcurl in [
            "https://127.0.0.1:9100/metrics", "http://user:secret@127.0.0.1/metrics", "http://127.0.0.1:0/",
            "http://127.0.0.1:99999/", "http://[::1/", "http:///metrics", "http://a b/"
        ] {
            #expect(URL(libcurl) == nil, "\(libcurl)")
        }
    }
}

extension ConfigurationTests {
    /// The one list of built-in subsystems is what resmond runs: a subsystem added without its
    /// entry, or an entry without a subsystem, fails here.
    @Test func theBuiltInListIsWhatResmondRuns() throws {
        let daemon = try DaemonHarness()
        let running = try daemon.client.subsystems().map(\.name)
        #expect(running == BuiltInSubsystem.names)
        #expect(DaemonConfiguration.subsystemNames == BuiltInSubsystem.names)
    }
}
