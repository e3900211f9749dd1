import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Attack round 4, item 8: a resource with a bidirectional override (from a plug-in, where the
/// API's refusal does not reach) reaches the terminal escaped, never raw.
@Suite struct HiddenTextInTheCLITests {
    @Test func resmonStatsShowsABidirectionalOverrideEscaped() throws {
        let directory = TemporaryDirectory("resmon-hidden-cli")
        let textfiles = directory.file("textfile")
        mkdir(textfiles, 0o755)
        try directory.write("textfile/x.prom", "hidden_level{name=\"ab\u{202E}cd\"} 1\n")
        try directory.write("config/subsystems.d/batch.json", #"{"kind": "textfile", "path": "\#(textfiles)", "interval": 1}"#)
        let daemon = try DaemonHarness(directory: directory)
        #expect(daemon.eventually(timeout: 30) { (try? daemon.client.statistic("batch:name=ab\u{202E}cd:hidden_level")) != nil }, "\(daemon.stderr)")
        let shown = try Products.run(Products.path("resmon"), ["--socket", daemon.socket, "stats", "hidden"])
        #expect(shown.status == 0, "\(shown.error)")
        #expect(shown.output.contains("name=ab\\u{202E}cd") && !shown.output.contains("\u{202E}"), "\(shown.output)")
    }
}
