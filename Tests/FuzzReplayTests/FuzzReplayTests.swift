import Foundation
import FuzzTargets
import Testing

/// Every seed and every past crash in Tests/FuzzCorpus/HARNESS (crashes/ included) through its
/// harness, without sanitizers: a regression input that traps again fails here. Each harness's
/// inputs run in a child process (an exit test), so that a trap fails that test, naming the
/// input, rather than ending the whole test run.
@Suite struct FuzzReplayTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("FuzzCorpus").path

    /// The files under the harness's corpus directory, sorted.
    static func inputs(_ harness: String) -> [String] {
        let directory = corpus + "/" + harness
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        var files: [String] = []
        for case let relative as String in walker {
            var isDirectory: ObjCBool = false
            let path = directory + "/" + relative
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                !relative.hasSuffix("README.md")
            {
                files.append(path)
            }
        }
        return files.sorted()
    }

    /// Runs every input; in the child. Names each input on stderr before running it, so that
    /// the parent can say which one trapped.
    static func replay(_ name: String) {
        guard let harness = FuzzTargets.harness(named: name) else { fatalError("no harness \(name)") }
        for path in inputs(name) {
            FileHandle.standardError.write(Data("replaying \(path)\n".utf8))
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }
            harness.run(Array(bytes))
        }
    }

    /// Runs the harness's inputs in a child; a trap fails the test with the input's path.
    static func expectReplays(_ name: String, _ child: ExitTest.Result?) {
        guard let child else { return }
        let log = String(decoding: child.standardErrorContent, as: UTF8.self)
        let last = log.split(separator: "\n").last { $0.hasPrefix("replaying ") }
        #expect(child.exitStatus == .exitCode(0), "harness \(name) trapped on \(last.map { String($0.dropFirst(10)) } ?? "?"):\n\(log.suffix(2000))")
    }

    @Test func everyHarnessHasSeeds() {
        for harness in FuzzTargets.harnesses {
            #expect(FuzzReplayTests.inputs(harness.name).count >= 3, "Tests/FuzzCorpus/\(harness.name) needs seed inputs")
        }
    }

    @Test func filter() async {
        let child = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { FuzzReplayTests.replay("filter") }
        FuzzReplayTests.expectReplays("filter", child)
    }

    @Test func prometheus() async {
        let child = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { FuzzReplayTests.replay("prometheus") }
        FuzzReplayTests.expectReplays("prometheus", child)
    }

    @Test func perfmon() async {
        let child = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { FuzzReplayTests.replay("perfmon") }
        FuzzReplayTests.expectReplays("perfmon", child)
    }

    @Test func configuration() async {
        let child = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { FuzzReplayTests.replay("configuration") }
        FuzzReplayTests.expectReplays("configuration", child)
    }

    @Test func request() async {
        let child = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { FuzzReplayTests.replay("request") }
        FuzzReplayTests.expectReplays("request", child)
    }

    @Test func sse() async {
        let child = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { FuzzReplayTests.replay("sse") }
        FuzzReplayTests.expectReplays("sse", child)
    }

    @Test func history() async {
        let child = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { FuzzReplayTests.replay("history") }
        FuzzReplayTests.expectReplays("history", child)
    }

    @Test func proc() async {
        let child = await #expect(processExitsWith: .success, observing: [\.standardErrorContent]) { FuzzReplayTests.replay("proc") }
        FuzzReplayTests.expectReplays("proc", child)
    }
}
