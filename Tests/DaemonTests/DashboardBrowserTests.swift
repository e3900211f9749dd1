import Foundation
import ResmonTestSupport
import Testing

/// The dashboard in a real browser: Debian's headless Chromium, driven through chromium-driver by
/// Python's selenium (Browser/dashboard_browser.py, installed into .build/browser-venv by
/// `make test`), against a real resmond. Screenshots of each view go to .build/artifacts.
@Suite struct DashboardBrowserTests {
    static let chromium = "/usr/bin/chromium"
    static let driver = "/usr/bin/chromedriver"
    static var python: String { Products.packageRoot() + "/.build/browser-venv/bin/python" }

    @Test(
        .enabled(
            if: FileManager.default.isExecutableFile(atPath: chromium) && FileManager.default.isExecutableFile(atPath: driver),
            "needs Debian's chromium and chromium-driver (make test-deps installs them)"))
    func theDashboardShowsTheHostLiveAndRendersHostileNamesAsText() throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.python),
            "no selenium venv at \(Self.python): run `make browser-deps` (make test does)")
        // As root, a token file (it must be root's) lets the page write; otherwise it stays read-only.
        let secrets = TemporaryDirectory("resmon-dashboard-token")
        let token = getuid() == 0 ? "dashboard-token-0123456789" : nil
        var configuration: String?
        if let token {
            try secrets.write("token", token + "\n")
            chmod(secrets.file("token"), 0o600)
            configuration = #"{"http": {"tokenFile": "\#(secrets.file("token"))"}}"#
        }
        let daemon = try DaemonHarness(arguments: ["--listen", "127.0.0.1:0", "--step", "1"], configuration: configuration)
        let listen = try #require(try daemon.client.status().listen)
        // Enough history for the charts to draw lines: a few cycles.
        try daemon.waitForCycles(3)
        let script = Products.packageRoot() + "/Tests/DaemonTests/Browser/dashboard_browser.py"
        let artifacts = Products.packageRoot() + "/.build/artifacts"
        let result = try Products.run(Self.python, [script, "http://\(listen)", daemon.socket, artifacts] + (token.map { [$0] } ?? []), timeout: 400)
        if result.status == 3 {
            // Chromium is installed but cannot start here (no usable sandbox or display stack).
            print("DashboardBrowserTests skipped: \(result.output) \(result.error)")
            return
        }
        #expect(result.status == 0, "\(result.output)\n\(result.error.suffix(3000))")
        #expect(!result.output.contains("FAIL"), "\(result.output)")
        #expect(result.output.contains("ok: the browser console has no errors"), "\(result.output)")
        if token != nil { #expect(result.output.contains("ok: stop with the token stops the monitor"), "\(result.output)") }
        #expect(try daemon.client.health().status == "ok")
    }
}
