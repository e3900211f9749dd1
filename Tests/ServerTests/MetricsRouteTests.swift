import ResmonAPI
import Server
import Testing

/// `GET /metrics`: the Prometheus text exposition (0.0.4) of a small table. promtool checks the
/// daemon's whole exposition in DaemonTests (MetricsExpositionTests); here, the layout.
@Suite struct MetricsRouteTests {
    @Test func aSmallTableRendersOneHeadedFamilyPerStatistic() throws {
        let rig = try RouterRig()
        #expect(rig.send("PUT", "/v1/statistics/app:job:done_total", body: #"{"value": 3, "kind": "counter", "help": "Jobs done."}"#).status == 200)
        let answer = rig.send("GET", "/metrics")
        #expect(answer.status == 200 && answer.contentType == "text/plain; version=0.0.4; charset=utf-8", "\(answer)")
        let lines = answer.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.last == "", "ends with a newline")

        let own = lines.filter { $0.hasPrefix("resmon_memory_") || $0.hasPrefix("resmon_net_") || $0.hasPrefix("resmon_app_") }
        let expected = [
            "resmon_app_done_total{resource=\"job\"} 3",
            "resmon_memory_used_bytes{resource=\"host\"} 1003",
            "resmon_net_receive_bytes_total{resource=\"eth0\",device=\"eth0\"} 150",
            "resmon_net_receive_bytes_total{resource=\"lo\",device=\"lo\"} 21"
        ]
        #expect(own == expected, "\(answer.text)")
        for (name, help, type) in [
            ("resmon_app_done_total", "Jobs done.", "counter"), ("resmon_memory_used_bytes", "Memory in use. (bytes)", "gauge"),
            ("resmon_net_receive_bytes_total", "Bytes received. (bytes)", "counter")
        ] {
            let header = lines.indices.filter { lines[$0] == "# HELP \(name) \(help)" }
            #expect(header.count == 1, "one HELP for \(name): \(answer.text)")
            guard let at = header.first, at + 2 < lines.count else { continue }
            #expect(lines[at + 1] == "# TYPE \(name) \(type)", "\(answer.text)")
            #expect(lines[at + 2].hasPrefix(name + "{"), "the family's samples follow its header: \(answer.text)")
        }

        // Every line is a comment or `name{labels} value`, a name Prometheus accepts, each family
        // headed once before its samples.
        var headed: Set<String> = []
        for line in lines where !line.isEmpty {
            if line.hasPrefix("# TYPE ") {
                let name = line.split(separator: " ")[2]
                #expect(headed.insert(String(name)).inserted, "\(name) typed twice")
                continue
            }
            if line.hasPrefix("#") { continue }
            let name = String(line.prefix { $0 != "{" && $0 != " " })
            #expect(!name.isEmpty && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }, "\(line)")
            #expect(!(name.first?.isNumber ?? true), "\(line)")
            #expect(headed.contains(name) || headed.contains { name.hasPrefix($0 + "_") }, "\(line) before its TYPE")
            #expect(Double(line.split(separator: " ").last ?? "") != nil, "\(line)")
        }
        #expect(rig.send("POST", "/metrics").isError(405, .methodNotAllowed))
    }
}
