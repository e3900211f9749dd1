import ResmonSystem

/// The dashboard (docs/DASHBOARD.md): `GET /` and `/dashboard/*`, static files embedded in the
/// binary at build time (Sources/Server/Dashboard), and Chart.js read at request time from
/// Debian's libjs-chart.js, so that an installed resmond needs nothing beside it.
public struct DashboardRoutes {
    /// Where Debian's libjs-chart.js puts Chart.js's browser build.
    public static let chartLibraryPath = "/usr/share/javascript/chart.js/chart.min.js"
    /// Chart.js 3.9's minified build is 200 KB; anything far larger is not it.
    static let chartLibraryLimit = 4 << 20

    /// One embedded file: its bytes, its type and the validator a browser revalidates with.
    struct Asset: Sendable {
        let body: [UInt8]
        let contentType: String
        let etag: String

        init(_ body: [UInt8], _ contentType: String) {
            self.body = body
            self.contentType = contentType
            etag = DashboardRoutes.etag(of: body)
        }
    }

    static let assets: [String: Asset] = [
        "/": Asset(PackageResources.index_html, "text/html; charset=utf-8"),
        "/dashboard/dashboard.css": Asset(PackageResources.dashboard_css, "text/css; charset=utf-8"),
        "/dashboard/dashboard.js": Asset(PackageResources.dashboard_js, "text/javascript; charset=utf-8"),
        "/dashboard/charts.js": Asset(PackageResources.charts_js, "text/javascript; charset=utf-8"),
        "/dashboard/views.js": Asset(PackageResources.views_js, "text/javascript; charset=utf-8")
    ]

    /// Nothing but resmond's own files: no inline script or style, no other origin, no framing.
    static let securityHeaders: [(String, String)] = [
        (
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
                + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("Cache-Control", "no-cache")
    ]

    /// The file at `path`, a 304 when the browser's copy is current, or nil when there is none.
    static func response(_ path: String, chartLibrary: String, ifNoneMatch: String?) -> HTTPResponse? {
        if path == "/dashboard/chart.js" { return self.chartLibrary(path: chartLibrary, ifNoneMatch: ifNoneMatch) }
        guard let asset = assets[path] else { return nil }
        return answer(asset, ifNoneMatch: ifNoneMatch)
    }

    private static func answer(_ asset: Asset, ifNoneMatch: String?) -> HTTPResponse {
        let headers = securityHeaders + [("ETag", asset.etag)]
        if let ifNoneMatch, ifNoneMatch.split(separator: ",").contains(where: { $0.trimmingSpaces == asset.etag }) {
            return HTTPResponse(status: 304, contentType: asset.contentType, body: [], headers: headers)
        }
        return HTTPResponse(status: 200, contentType: asset.contentType, body: asset.body, headers: headers)
    }

    /// Chart.js, read on each request (an upgrade of the package shows at the next load); a
    /// clear 404 when libjs-chart.js is not installed, which the page reports too.
    static func chartLibrary(path: String, ifNoneMatch: String?) -> HTTPResponse {
        let reason: String
        do {
            if let body = try readFile(at: path, limit: chartLibraryLimit) {
                return answer(Asset(body, "text/javascript; charset=utf-8"), ifNoneMatch: ifNoneMatch)
            }
            reason = "\(path) does not exist"
        } catch {
            reason = error.description
        }
        let text = "Chart.js is not available (\(reason)): install Debian's libjs-chart.js (apt-get install libjs-chart.js)\n"
        return HTTPResponse(status: 404, contentType: "text/plain; charset=utf-8", body: Array(text.utf8), headers: securityHeaders)
    }

    /// A strong validator: FNV-1a 64 of the bytes.
    static func etag(of body: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in body { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return "\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\""
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return text
    }
}
