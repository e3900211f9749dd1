import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

#if canImport(FoundationXML)
    import FoundationXML
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// A plain SAX reading of xapi's xport XML: the legend and each row's values.
final class XportReader: NSObject, XMLParserDelegate {
    var meta: [String: String] = [:]
    var legend: [String] = []
    var rows: [(time: Int, values: [String])] = []
    private var text = ""
    private var inMeta = false

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
        text = ""
        if name == "meta" { inMeta = true }
        if name == "row" { rows.append((0, [])) }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        switch name {
        case "meta": inMeta = false
        case "entry": legend.append(text)
        case "t": rows[rows.count - 1].time = Int(text) ?? -1
        case "v": rows[rows.count - 1].values.append(text)
        default: if inMeta { meta[name] = text }
        }
    }
}

@Suite struct HistoryEndToEndTests {
    @Test func historyRRDToolXMLAndRRDUpdates() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        #expect(daemon.eventually(timeout: 10) { ((try? daemon.client.history("memory:host:total_bytes", start: -10))?.rows.compactMap(\.v).count ?? 0) >= 6 })
        let history = try daemon.client.history("memory:host:total_bytes", start: -10)
        #expect(history.step == 1 && history.cf == "AVERAGE" && history.unit == "bytes")
        let total = try #require(try daemon.client.statistic("memory:host:total_bytes").value)
        #expect(history.rows.compactMap(\.v).allSatisfy { abs($0 - total) / total < 1e-6 })  // float32 rows

        // rrdtool restores the XML and fetches the same values.
        let directory = TemporaryDirectory("resmon-xml")
        let xml = try daemon.client.send("GET", "/v1/history/load:host:load1/rrdtool.xml")
        #expect(xml.status == 200)
        try directory.write("load.xml", String(decoding: xml.body, as: UTF8.self))
        let restore = try Products.run("/usr/bin/rrdtool", ["restore", directory.file("load.xml"), directory.file("load.rrd")])
        #expect(restore.status == 0, "\(restore.error)")
        let ours = try daemon.client.history("load:host:load1", start: -8)
        let fetch = try Products.run(
            "/usr/bin/rrdtool",
            [
                "fetch", directory.file("load.rrd"), "AVERAGE",
                "--start", "\(ours.start)", "--end", "\(ours.rows.last?.t ?? ours.end)"
            ])
        #expect(fetch.status == 0, "\(fetch.error)")
        var fetched: [Int: Double] = [:]
        for line in fetch.output.split(separator: "\n") where line.contains(":") {
            let parts = line.split(separator: ":")
            if let time = Int(parts[0]), let value = Double(parts[1].trimmingCharacters(in: .whitespaces)) { fetched[time] = value }
        }
        let known = ours.rows.filter { $0.v != nil && $0.t <= (ours.rows.last?.t ?? 0) }
        #expect(!known.isEmpty)
        for row in known { #expect(fetched[row.t].map { abs($0 - row.v!) < 1e-6 } == true, "t=\(row.t)") }

        // xapi's rrd_updates: valid xport XML whose rows × columns match its meta, with cpu0…
        let listen = try #require(try daemon.client.status().listen)
        let now = Int(Date().timeIntervalSince1970)
        let curl = try Products.run("/usr/bin/curl", ["-sf", "http://\(listen)/rrd_updates?start=\(now - 10)&cf=AVERAGE&interval=1&host=true"])
        #expect(curl.status == 0)
        let reader = XportReader()
        let parser = XMLParser(data: Data(curl.output.utf8))
        parser.delegate = reader
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(Int(reader.meta["columns"] ?? "") == reader.legend.count)
        #expect(Int(reader.meta["rows"] ?? "") == reader.rows.count)
        #expect(reader.rows.allSatisfy { $0.values.count == reader.legend.count })
        #expect(reader.legend.contains { $0.hasPrefix("AVERAGE:host:") && $0.hasSuffix(":cpu0") })
        #expect(reader.legend.contains { $0.hasSuffix(":memory_total_kib") })
        #expect(reader.legend.contains { $0.hasSuffix(":loadavg") })
        #expect(zip(reader.rows, reader.rows.dropFirst()).allSatisfy { $0.time > $1.time })  // newest first
        let uuid = reader.legend[0].split(separator: ":")[2]
        let machineID = try String(contentsOfFile: "/etc/machine-id", encoding: .utf8).filter(\.isHexDigit)
        #expect(uuid.filter(\.isHexDigit) == machineID)
        let memoryColumn = try #require(reader.legend.firstIndex { $0.hasSuffix(":memory_total_kib") })
        let kib = try #require(reader.rows.compactMap { Double($0.values[memoryColumn]) }.first { !$0.isNaN })
        #expect(abs(kib - total / 1024) < 1)

        let json = try Products.run("/usr/bin/curl", ["-sf", "http://\(listen)/rrd_updates?start=\(now - 10)&cf=AVERAGE&interval=1&host=true&json=true"])
        let object = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        let meta = object?["meta"] as? [String: Any]
        #expect((meta?["legend"] as? [String])?.count == meta?["columns"] as? Int)
        #expect(((object?["data"] as? [[String: Any]])?.first?["values"] as? [String]) != nil)

        let bad = try daemon.client.send("GET", "/rrd_updates", query: [("start", "yesterday")])
        #expect(bad.status == 400)
        #expect(try daemon.client.send("GET", "/v1/history/cpu:total:usage_ratio", query: [("cf", "median")]).status == 400)
        #expect(try daemon.client.send("GET", "/v1/history/nope:x:y").status == 404)
    }

    @Test func historySurvivesKillNineAndADamagedSnapshotDoesNotStopTheDaemon() throws {
        let directory = TemporaryDirectory("resmon-restart")
        let configuration = #"{"history": {"snapshotSeconds": 1}}"#
        var first: DaemonHarness? = try DaemonHarness(configuration: configuration, directory: directory)
        #expect(first!.eventually(timeout: 10) { ((try? first!.client.history("load:host:load1", start: -20))?.rows.compactMap(\.v).count ?? 0) >= 6 })
        let before = try first!.client.history("load:host:load1", start: -30)
        // A snapshot written after `before` was read holds its rows.
        let snapshot = directory.file("state/history.snapshot")
        let readAt = Date()
        #expect(
            first!.eventually(timeout: 30) {
                ((try? FileManager.default.attributesOfItem(atPath: snapshot))?[.modificationDate] as? Date).map { $0 > readAt } == true
            })
        // /v1/status says what the last snapshot cost: its size is a file's that was written.
        let report = try #require(try first!.client.status().lastHistorySnapshot)
        #expect((report.bytes ?? 0) > 0 && report.wallSeconds >= 0 && report.cpuSeconds >= 0)
        first!.signal(SIGKILL)
        _ = first!.waitForExit(timeout: 5)
        first = nil

        let second = try DaemonHarness(configuration: configuration, directory: directory)
        let after = try second.client.history("load:host:load1", start: before.start, end: before.end)
        let survivors = before.rows.filter { row in row.v != nil && row.t <= before.end - 2 }
        #expect(survivors.count >= 3)
        for row in survivors {
            #expect(after.rows.first { $0.t == row.t }?.v == row.v, "t=\(row.t)")
        }
        #expect(second.stderr.contains("history restored"))
        second.signal(SIGTERM)
        #expect(second.waitForExit(timeout: 10) == 0)  // the 2 s bound is DaemonTests' to check, unloaded

        // A damaged snapshot is moved aside; resmond starts with empty history.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: snapshot)))
        bytes[bytes.count / 2] ^= 0xff
        try Data(bytes).write(to: URL(fileURLWithPath: snapshot))
        let third = try DaemonHarness(configuration: configuration, directory: directory)
        #expect(third.stderr.contains("cannot be used"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("state")).contains { $0.hasPrefix("history.snapshot.damaged-") })
        #expect(try third.client.health().status == "ok")
    }

    @Test func cliShowsHistoryWithASparkline() throws {
        let daemon = try DaemonHarness()
        #expect(daemon.eventually(timeout: 10) { ((try? daemon.client.history("load:host:load1", start: -10))?.rows.compactMap(\.v).count ?? 0) >= 2 })
        let result = try Products.run(
            Products.path("resmon"), ["history", "load:host:load1", "--since", "10s", "--cf", "max"],
            environment: ["RESMON_SOCKET": daemon.socket])
        #expect(result.status == 0, "\(result.error)")
        let lines = result.output.split(separator: "\n")
        #expect(lines.first?.hasPrefix("load:host:load1 MAX every 1 s") == true)
        #expect(lines.count > 3 && lines[1].unicodeScalars.allSatisfy { ("\u{2581}"..."\u{2588}").contains($0) || $0 == " " })
        #expect(
            try Products.run(
                Products.path("resmon"), ["history", "load:host:load1", "--since", "soon"],
                environment: ["RESMON_SOCKET": daemon.socket]
            ).status == 64)
    }
}
