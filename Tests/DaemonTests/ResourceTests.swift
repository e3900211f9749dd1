import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Processes, cgroups, resmond itself and pushed statistics through a running resmond.
@Suite struct ResourceTests {
    @Test func aProcessAppearsWithinAPeriodAndGoesAfterItExits() throws {
        let daemon = try DaemonHarness()
        let sleeper = try SpawnedGroup("/bin/sleep", ["300"])
        let key = "process:\(sleeper.pid):rss_bytes"
        // Processes are sampled every 5 s by default: within one period, and a little.
        #expect(daemon.eventually(timeout: 6.5) { (try? daemon.client.statistic(key)) != nil })
        let statistic = try daemon.client.statistic(key)
        #expect(statistic.labels["name"] == "sleep")
        #expect(statistic.labels["cmdline"] == "/bin/sleep 300")
        // Sampled in the middle of its exec the RSS can read 0; the next period has it.
        #expect(daemon.eventually(timeout: 6.5) { ((try? daemon.client.statistic(key))?.value ?? 0) > 0 })
        let selected = try daemon.client.statistics(matching: ":rss_bytes$", where: ["name=sleep", "resource=\(sleeper.pid)"])
        #expect(selected.map(\.key) == [key])
        sleeper.stop()
        #expect(daemon.eventually(timeout: 6.5) { (try? daemon.client.statistic(key)) == nil })
    }

    /// resmond links FoundationEssentials only: one `import Foundation` pulls in the whole of
    /// Foundation and ICU's data, which in a release build grew resmond from 28 to 77 MB and its
    /// idle RSS by 4 MB (docs/PERFORMANCE.md).
    @Test func resmondDoesNotLinkFullFoundation() throws {
        let needed = try Products.run("/usr/bin/readelf", ["-d", Products.path("resmond")])
        #expect(needed.status == 0, "readelf: \(needed.error)")
        let libraries = needed.output.split(separator: "\n").filter { $0.contains("(NEEDED)") }
        #expect(
            libraries.contains { $0.contains("libFoundationEssentials") } || !libraries.contains { $0.contains("libswiftCore") },
            "resmond should link FoundationEssentials: \(libraries)")
        #expect(
            !libraries.contains { $0.contains("[libFoundation.so") || $0.contains("libFoundationInternationalization") },
            "resmond links full Foundation: \(libraries)")
    }

    /// lld packs resmond's relative relocations (DT_RELR): gold's table was 915 KB that the
    /// loader read, and kept resident, at every start.
    @Test func resmondPacksItsRelocations() throws {
        let dynamic = try Products.run("/usr/bin/readelf", ["-d", Products.path("resmond")])
        #expect(dynamic.status == 0, "readelf: \(dynamic.error)")
        #expect(dynamic.output.contains("(RELR)"), "resmond has no packed relocations: linked without lld's -z pack-relative-relocs?")
        let relocations = try Products.run("/usr/bin/readelf", ["-rW", Products.path("resmond")])
        let relative = relocations.output.split(separator: "\n").filter { $0.contains("R_X86_64_RELATIVE") }
        #expect(relative.count < 1000, "\(relative.count) unpacked relative relocations")
    }

    @Test func resmondWatchesItselfAndTheCgroups() throws {
        let daemon = try DaemonHarness()
        #expect(daemon.eventually(timeout: 3) { (try? daemon.client.statistic("self:resmond:sample_cpu_seconds").value) != nil })
        let rss = try daemon.client.statistic("self:resmond:rss_bytes")
        #expect((rss.value ?? 0) > 1_000_000)
        #expect((try daemon.client.statistic("self:resmond:open_fds").value ?? 0) > 3)
        let cgroups = try daemon.client.subsystems().first { $0.name == "cgroup" }
        #expect(cgroups?.state == "available")
        #expect((try daemon.client.statistic("cgroup:/:memory_bytes").value ?? 0) > 0)
        let promtool = try Products.run("/usr/bin/promtool", ["check", "metrics"], input: try daemon.client.metrics())
        #expect(promtool.status == 0, "promtool: \(promtool.output) \(promtool.error)")
    }

    @Test func pushedStatisticsRoundTripExpireAndRefuseGarbage() throws {
        let daemon = try DaemonHarness(configuration: #"{"push": {"expireSeconds": 2}}"#)
        let pushed = try daemon.client.push("app:shop:queue_depth", value: 42, unit: "orders")
        #expect(pushed.value == 42 && pushed.unit == "orders" && pushed.kind == "gauge")
        #expect(try daemon.client.statistic("app:shop:queue_depth").value == 42)

        let resmon = Products.path("resmon")
        let environment = ["RESMON_SOCKET": daemon.socket]
        let cli = try Products.run(resmon, ["push", "app:shop:orders_total", "10", "--kind", "counter", "--unit", "orders"], environment: environment)
        #expect(cli.status == 0, "\(cli.error)")
        #expect(try daemon.client.statistic("app:shop:orders_total").total == 10)
        let wrongName = try Products.run(resmon, ["push", "app:shop:orders", "1", "--kind", "counter"], environment: environment)
        #expect(wrongName.status == 1 && wrongName.error.contains("_total"))

        func status(_ method: String, _ key: String, _ body: String?) throws -> Int {
            try daemon.client.send(method, "/v1/statistics/" + key, body: body.map { Array($0.utf8) }).status
        }
        #expect(try status("PUT", "app:shop:x", "not json") == 400)
        #expect(try status("PUT", "app:shop:x", #"{"value": "high"}"#) == 400)
        #expect(try status("PUT", "app:shop:x", #"{"value": 1, "kind": "histogram"}"#) == 400)
        #expect(try status("PUT", "app:shop:x", #"{"value": 1, "unit": "Very Big"}"#) == 400)
        #expect(try status("PUT", "app:shop:x", #"{"value": 1e999}"#) == 400)
        #expect(try status("PUT", "cpu:total:usage_ratio", #"{"value": 1}"#) == 405)
        #expect(try status("PUT", "app:shop:orders_total", #"{"value": 1}"#) == 409)
        #expect(try status("DELETE", "app:shop:nothing", nil) == 404)
        #expect(try status("DELETE", "app:shop:orders_total", nil) == 204)
        #expect((try? daemon.client.statistic("app:shop:orders_total")) == nil)

        // Not pushed again: gone after push.expireSeconds.
        #expect(daemon.eventually(timeout: 6) { (try? daemon.client.statistic("app:shop:queue_depth")) == nil })
        #expect(try daemon.client.health().status == "ok")
    }

    @Test func tcpIsReadOnlyUnlessATokenFileAuthorizesWrites() throws {
        let directory = TemporaryDirectory("resmon-token")
        try directory.write("token", "s3cret-token-0123456789\n")
        chmod(directory.file("token"), 0o600)
        let configuration = #"{"http": {"listen": "127.0.0.1:0", "tokenFile": "\#(directory.file("token"))"}}"#
        // Only root can own the token file as required; anyone else is told so. As root, that
        // half runs as nobody (setpriv), with a token file nobody owns.
        try directory.write("config/resmond.json", configuration)
        if getuid() != 0 {
            let check = try Products.run(Products.path("resmond"), ["--config-dir", directory.file("config"), "--check-config"])
            #expect(check.status == 1 && check.error.contains("owned by root"), "\(check.error)")
            return
        }
        let nobody = TemporaryDirectory("resmon-token-nobody")
        try nobody.write("token", "s3cret-token-0123456789\n")
        try nobody.write("config/resmond.json", #"{"http": {"listen": "127.0.0.1:0", "tokenFile": "\#(nobody.file("token"))"}}"#)
        // A copy of resmond that nobody may run, wherever the build tree is (CI clones under /root).
        try Products.copyExecutable(Products.path("resmond"), to: nobody.file("resmond"))
        for path in [nobody.path, nobody.file("config"), nobody.file("config/resmond.json"), nobody.file("token")] {
            #expect(chown(path, 65534, 65534) == 0)
        }
        chmod(nobody.file("token"), 0o600)
        let asNobody = try Products.run(
            "/usr/bin/setpriv",
            [
                "--reuid", "65534", "--regid", "65534", "--clear-groups", nobody.file("resmond"),
                "--config-dir", nobody.file("config"), "--check-config"
            ],
            environment: ["HOME": "/nonexistent", "XDG_STATE_HOME": nobody.file("state")])
        #expect(asNobody.status == 1 && asNobody.error.contains("owned by root"), "exit \(asNobody.status): \(asNobody.error)")
        let daemon = try DaemonHarness(arguments: ["--step", "1"], configuration: configuration)
        let listen = try #require(try daemon.client.status().listen)
        func put(_ headers: [String]) throws -> ProgramResult {
            try Products.run(
                "/usr/bin/curl",
                ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-d", #"{"value": 1}"#]
                    + headers.flatMap { ["-H", $0] } + ["http://\(listen)/v1/statistics/app:tcp:value"])
        }
        #expect(try put([]).output == "403")
        #expect(try put(["Authorization: Bearer wrong"]).output == "403")
        #expect(try put(["Authorization: Bearer s3cret-token-0123456789"]).output == "200")
        #expect(try daemon.client.statistic("app:tcp:value").value == 1)

        chmod(directory.file("token"), 0o644)
        let check = try Products.run(Products.path("resmond"), ["--config-dir", daemon.configDirectory, "--check-config"])
        #expect(check.status == 1 && check.error.contains("http.tokenFile"))
    }
}
