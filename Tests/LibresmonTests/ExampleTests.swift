import Foundation
import ResmonTestSupport
import Testing

/// examples/c, compiled as a consumer compiles them and run against a real resmond: each must
/// create a monitor on its own PID, raise it, be notified and clean up (exit status 0).
@Suite struct ExampleTests {
    /// Builds an example and runs it against a fresh resmond, optionally under a wrapper (valgrind).
    private func run(_ example: String, wrapper: String = "") throws -> ProgramResult {
        let directory = TemporaryDirectory("libresmon-example")
        let program = directory.file("example")
        try CTool.compile([CTool.examplesDirectory + "/" + example], output: program, cplusplus: example.hasSuffix(".cpp"))
        let daemon = try DaemonHarness()
        let result = try CTool.shell("\(wrapper) '\(program)'", environment: ["RESMON_SOCKET": daemon.socket], timeout: 300)
        let left = try daemon.client.monitors()
        #expect(left.isEmpty, "the example left monitors behind: \(left.map(\.id))")
        return result
    }

    @Test func functionStyleExampleIsNotifiedByCallbackPollAndSignal() throws {
        let result = try run("function_style.c")
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
        #expect(result.output.contains("callback: event") && result.output.contains("polled: event") && result.output.contains("signal: si_int = 1"))
    }

    @Test func eventingExampleIsNotifiedBySignalWithTheHandle() throws {
        let result = try run("eventing.c")
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
        #expect(result.output.contains("handle=1, record id="))
    }

    @Test func objectStyleExampleUsesRAIIAndIsNotifiedByCallbackAndPoll() throws {
        let result = try run("object_style.cpp")
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
        #expect(result.output.contains("callback: event") && result.output.contains("polled: event") && result.output.contains("(errno 2)"))
    }

    /// No invalid read or write, no definite leak (the Swift runtime's metadata caches are
    /// allocated once and reachable: not counted).
    @Test(arguments: ["function_style.c", "object_style.cpp", "eventing.c"])
    func examplesAreCleanUnderValgrind(example: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind") else {
            Issue.record("valgrind is missing: make test-deps installs it")
            return
        }
        let result = try run(
            example,
            wrapper: "valgrind --quiet --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite --error-exitcode=97")
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
    }
}
