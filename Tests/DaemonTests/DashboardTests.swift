import Foundation
import ResmonTestSupport
import Testing

/// The dashboard served by a real resmond on both listeners (docs/DASHBOARD.md).
@Suite struct DashboardTests {
    /// `curl -s -D -`: the status line and headers, then the body.
    static func fetch(_ url: String, unixSocket: String? = nil, _ extra: [String] = []) throws -> (status: Int, headers: [String: String], body: String) {
        let arguments = ["-s", "-D", "-", "--max-time", "20"] + (unixSocket.map { ["--unix-socket", $0] } ?? []) + extra + [url]
        let result = try Products.run("/usr/bin/curl", arguments)
        let parts = result.output.components(separatedBy: "\r\n\r\n")
        let head = parts.first?.components(separatedBy: "\r\n") ?? []
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let status = head.first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) } ?? 0
        return (status, headers, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    @Test func thePageItsFilesAndChartJSAreServedOverTCPAndTheUnixSocket() throws {
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"])
        let listen = try #require(try daemon.client.status().listen)
        for (base, socket) in [("http://\(listen)", nil), ("http://localhost", daemon.socket)] {
            let page = try Self.fetch(base + "/", unixSocket: socket)
            #expect(page.status == 200 && page.headers["content-type"] == "text/html; charset=utf-8", "\(base): \(page.status) \(page.headers)")
            #expect(page.body.contains("/dashboard/chart.js") && page.body.contains("/dashboard/views.js"))
            #expect(page.headers["content-security-policy"]?.contains("script-src 'self'") == true)
            #expect(page.headers["content-security-policy"]?.contains("frame-ancestors 'none'") == true)
            #expect(page.headers["x-content-type-options"] == "nosniff" && page.headers["set-cookie"] == nil)
            let style = try Self.fetch(base + "/dashboard/dashboard.css", unixSocket: socket)
            #expect(style.status == 200 && style.headers["content-type"] == "text/css; charset=utf-8")
            let etag = try #require(style.headers["etag"])
            #expect(try Self.fetch(base + "/dashboard/dashboard.css", unixSocket: socket, ["-H", "If-None-Match: \(etag)"]).status == 304)
            #expect(try Self.fetch(base + "/dashboard/missing.js", unixSocket: socket).status == 404)
        }
        let chart = try Self.fetch("http://\(listen)/dashboard/chart.js")
        if FileManager.default.fileExists(atPath: "/usr/share/javascript/chart.js/chart.min.js") {
            #expect(chart.status == 200 && chart.headers["content-type"] == "text/javascript; charset=utf-8")
            #expect(chart.body.contains("Chart.js v"))
        } else {
            #expect(chart.status == 404 && chart.body.contains("libjs-chart.js"), "\(chart)")
        }
        // Serving the page changes nothing about writes: over TCP without a token they are refused.
        let push = try Self.fetch("http://\(listen)/v1/statistics/app:dash:x", unixSocket: nil, ["-X", "PUT", "-d", #"{"value": 1}"#])
        #expect(push.status == 403 && push.body.contains("read-only"), "\(push)")
        #expect(try daemon.client.health().status == "ok")
    }
}
