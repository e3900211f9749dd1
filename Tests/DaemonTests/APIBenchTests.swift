import Foundation
import ResmonTestSupport
import Testing

/// The quick mode of `make bench`'s API section (issue 17: the engine's bench did not measure
/// the users' path): resmon-bench creates 1,000 monitors through a real resmond's socket, soaks
/// it 20 s under a user's traffic, and reports every figure the section promises. Only that the
/// figures exist (and the count), never their size: timing belongs to the bench itself.
@Suite struct APIBenchTests {
    private struct Figure: Decodable {
        let name: String
        let value: Double
        let unit: String
    }

    @Test func aQuickAPIRunReportsEveryFigure() throws {
        let directory = TemporaryDirectory("api-bench")
        let output = directory.file("results.json")
        let run = try Products.run(
            Products.path("resmon-bench"),
            ["--only", "api", "--api-monitors", "1000", "--soak", "20", "--resmond", Products.path("resmond"), "--output", output],
            timeout: 400)
        #expect(run.status == 0, "\(run.output)\(run.error)")
        let data = try #require(FileManager.default.contents(atPath: output), "no \(output): \(run.output)\(run.error)")
        let figures = Dictionary(try JSONDecoder().decode([Figure].self, from: data).map { ($0.name, $0) }) { first, _ in first }
        let promised = [
            "machine_cores", "machine_memory", "machine_processes", "machine_processes_running", "api_1k_processes",
            "api_1k_statistics_watched", "api_1k_create", "api_1k_create_rate", "api_1k_create_cpu", "api_1k_cpu_before", "api_1k_rss_before",
            "api_1k_rss_after_create",
            "api_1k_rss_per_monitor_after_create", "api_1k_soak", "api_1k_rss_after_soak", "api_1k_rss_per_monitor",
            "api_1k_rss_anon_per_monitor", "api_1k_pss_per_monitor", "api_1k_peak_rss", "api_1k_cpu", "api_1k_longest_cycle_cpu",
            "api_1k_cycles_missed"
        ]
        for name in promised {
            #expect(figures[name] != nil, "\(name) missing from \(run.output)")
        }
        #expect(figures["api_1k_monitors"]?.value == 1000, "\(run.output)")
        #expect((figures["api_1k_statistics_watched"]?.value ?? 0) > 0)
        #expect(figures["api_1k_peak_rss"]?.unit == "MiB" && figures["api_1k_rss_per_monitor"]?.unit == "bytes")
    }
}
