import Foundation
import FuzzTargets
import History
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

    /// Where the child notes the input it is about to run, so that the parent can name the one
    /// that trapped (an exit test's result is not returned when its condition fails).
    static func progressFile(_ name: String, parent: Int32) -> String { NSTemporaryDirectory() + "/resmon-fuzz-replay-\(name)-\(parent)" }

    /// Runs every input; in the child.
    static func replay(_ name: String) {
        guard let harness = FuzzTargets.harness(named: name) else { fatalError("no harness \(name)") }
        let progress = progressFile(name, parent: getppid())
        for path in inputs(name) {
            try? Data(path.utf8).write(to: URL(fileURLWithPath: progress))
            guard let bytes = FileManager.default.contents(atPath: path) else { continue }
            harness.run(Array(bytes))
        }
        try? FileManager.default.removeItem(atPath: progress)
        FuzzTargets.removeScratchDirectory()
    }

    /// After the child: names the input it trapped on, if it did.
    static func expectReplays(_ name: String, _ child: ExitTest.Result?) {
        let progress = progressFile(name, parent: getpid())
        defer { try? FileManager.default.removeItem(atPath: progress) }
        guard child == nil, let input = try? String(contentsOfFile: progress, encoding: .utf8) else { return }
        Issue.record("harness \(name) trapped on \(input): replay it with .build/debug/resmon-fuzz \(name) \(input)")
    }

    @Test func everyHarnessHasSeeds() {
        for harness in FuzzTargets.harnesses {
            #expect(FuzzReplayTests.inputs(harness.name).count >= 3, "Tests/FuzzCorpus/\(harness.name) needs seed inputs")
        }
    }

    /// The history seeds reach the decoder: a wrapped payload (first byte not 0 mod 4) has a
    /// right checksum and restores databases, which the harness then records into.
    @Test func historySeedsRestore() throws {
        let seeds = FuzzReplayTests.inputs("history").filter { $0.contains("/seed-") }
        var restored = 0
        for path in seeds {
            let bytes = try #require(FileManager.default.contents(atPath: path))
            guard let choice = bytes.first, choice % 4 != 0 else { continue }
            restored += try HistoryStore(settings: .init(step: 5)).restore(HistorySnapshots.wrap(Array(bytes.dropFirst())))
        }
        #expect(restored >= 3)
    }

    @Test func filter() async {
        let child = await #expect(processExitsWith: .success) { FuzzReplayTests.replay("filter") }
        FuzzReplayTests.expectReplays("filter", child)
    }

    @Test func prometheus() async {
        let child = await #expect(processExitsWith: .success) { FuzzReplayTests.replay("prometheus") }
        FuzzReplayTests.expectReplays("prometheus", child)
    }

    @Test func perfmon() async {
        let child = await #expect(processExitsWith: .success) { FuzzReplayTests.replay("perfmon") }
        FuzzReplayTests.expectReplays("perfmon", child)
    }

    @Test func configuration() async {
        let child = await #expect(processExitsWith: .success) { FuzzReplayTests.replay("configuration") }
        FuzzReplayTests.expectReplays("configuration", child)
    }

    @Test func request() async {
        let child = await #expect(processExitsWith: .success) { FuzzReplayTests.replay("request") }
        FuzzReplayTests.expectReplays("request", child)
    }

    @Test func sse() async {
        let child = await #expect(processExitsWith: .success) { FuzzReplayTests.replay("sse") }
        FuzzReplayTests.expectReplays("sse", child)
    }

    @Test func history() async {
        let child = await #expect(processExitsWith: .success) { FuzzReplayTests.replay("history") }
        FuzzReplayTests.expectReplays("history", child)
    }

    @Test func proc() async {
        let child = await #expect(processExitsWith: .success) { FuzzReplayTests.replay("proc") }
        FuzzReplayTests.expectReplays("proc", child)
    }
}
