import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

/// Tests/LibresmonTests/C/forward.c: an inline monitor with `forward` raises and cancels; the
/// events are in resmond's log, marked as the application's, and reach another session.
@Suite struct ForwardTests {
    @Test(arguments: ["", "valgrind --quiet --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite --error-exitcode=97"])
    func anInlineMonitorsForwardedEventsAreInResmondsLogAndStream(wrapper: String) throws {
        if !wrapper.isEmpty && !FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind") {
            Issue.record("valgrind is missing: make test-deps installs it")
            return
        }
        let directory = TemporaryDirectory("libresmon-forward")
        let program = directory.file("forward")
        try CTool.compile([CTool.sourceDirectory + "/forward.c"], output: program, flags: "-lm")
        let daemon = try DaemonHarness()
        let result = try CTool.shell("\(wrapper) '\(program)'", environment: ["RESMON_SOCKET": daemon.socket], timeout: 240)
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
        let printed = result.output.split(separator: "\n").first { $0.hasPrefix("forwarded: ") }?.split(separator: " ")
        let uid = String(try #require(printed?.dropFirst().first))
        let logged = try daemon.client.events(filter: "monitorId = \"\(uid)\"").events
        #expect(logged.map(\.type) == [.above, .canceled], "\(logged)")
        #expect(logged.allSatisfy { $0.labels == ["source": "application", "uid": String(getuid())] })
        #expect(logged.last?.cancels == logged.first?.id)
    }
}
