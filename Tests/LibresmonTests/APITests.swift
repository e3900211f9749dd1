import Foundation
import ResmonAPI
import ResmonClient
import ResmonTestSupport
import Testing

@testable import Libresmon

/// Tests/LibresmonTests/C/check.c: libresmon's calls from C against a real resmond.
@Suite struct APITests {
    private static func checker(_ directory: TemporaryDirectory) throws -> String {
        let program = directory.file("check")
        try CTool.compile([CTool.sourceDirectory + "/check.c"], output: program, flags: "-lm")
        return program
    }

    private func check(_ part: String, wrapper: String = "") throws {
        let directory = TemporaryDirectory("libresmon-check")
        let program = try APITests.checker(directory)
        let daemon = try DaemonHarness()
        try daemon.waitForCycles(1)
        let result = try CTool.shell("\(wrapper) '\(program)' \(part)", environment: ["RESMON_SOCKET": daemon.socket], timeout: 240)
        #expect(result.status == 0, "\(result.output)\n\(result.error)")
    }

    @Test func errorsAreNegativeErrnosWithTheDaemonsMessagePerThread() throws { try check("errors") }
    @Test func statisticsAreReadListedAndPushed() throws { try check("statistics") }
    @Test func monitorsAreCreatedStoppedControlledFoundAndDeleted() throws { try check("monitors") }
    @Test func oneSessionIsSharedByEightThreads() throws { try check("threads") }
    @Test func subscriptionsSignalReplayAndMakeTheirDescriptorReadable() throws { try check("subscriptions") }
    @Test func inlineMonitorsRunTheEnginesStateMachineInProcess() throws { try check("inline") }

    /// Eight threads on one session, subscriptions and monitors under valgrind: no invalid
    /// access, no definite leak.
    @Test(arguments: ["threads", "subscriptions", "monitors"])
    func cleanUnderValgrind(part: String) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/valgrind") else {
            Issue.record("valgrind is missing: make test-deps installs it")
            return
        }
        try check(part, wrapper: "valgrind --quiet --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite --error-exitcode=97")
    }

    /// DESIGN.md's table, row by row.
    @Test func httpStatusesMapToDesignsErrnos() {
        let table: [(Int, Int32)] = [
            (400, EINVAL), (403, EACCES), (404, ENOENT), (409, EEXIST), (413, E2BIG), (429, EBUSY), (503, EBUSY), (500, EIO), (418, EIO)
        ]
        for (status, code) in table {
            #expect(failure(ClientError.api(status: status, code: .badRequest, message: "m\(status)")) == -code, "HTTP \(status)")
            #expect(String(cString: resmon_last_error_for_tests()) == "m\(status)")
        }
        #expect(failure(ClientError.unreachable(socket: "/nonexistent/s", reason: "Timeout was reached")) == -ETIMEDOUT)
        #expect(failure(ClientError.malformedResponse("garbage")) == -EIO)
    }

    @Test func aSubscriptionResumesAfterARestartWithoutLosingOrRepeatingAnEvent() throws {
        let directory = TemporaryDirectory("resmond")
        let work = TemporaryDirectory("libresmon-follow")
        let program = try APITests.checker(work)
        var daemon = try DaemonHarness(directory: directory)
        let filter = "key ~ \"^app:flip:\" && (type = above || type = canceled)"
        let outputPath = work.file("follow.out")
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(output >= 0)
        let follower = try ChildProcess(
            program, ["follow", filter, "4"],
            environment: ["RESMON_SOCKET": daemon.socket, "LD_LIBRARY_PATH": CTool.libraryDirectory], stdout: output, stderr: output)
        close(output)
        defer { follower.stop() }
        func printed() -> [Int64] {
            let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.hasPrefix("event ") }.compactMap { Int64($0.split(separator: " ")[1]) }
        }
        /// One raise and one cancel of a new monitor on app:flip:NAME.
        func flip(_ name: String) throws {
            let key = "app:flip:" + name
            try daemon.client.push(key, value: 0)
            var spec = MonitorSpec(target: key, condition: .above, value: 0.5)
            spec.samples = 1
            _ = try daemon.client.createMonitors([spec])
            for (value, type) in [(1.0, "above"), (0.0, "canceled")] {
                let seen = try daemon.eventually(timeout: 60) {
                    try daemon.client.push(key, value: value)
                    return try daemon.client.events(filter: "key = \"\(key)\" && type = \(type)").events.count == 1
                }
                #expect(seen, "\(key): no \(type) event")
            }
        }
        try flip("before")
        #expect(eventually(timeout: 60) { printed().count == 2 }, "the follower printed \(printed())")
        daemon.process.stop()
        daemon = try DaemonHarness(directory: directory)
        try flip("after")
        #expect(follower.waitForExit(timeout: 120) == 0, "\((try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "")")
        let logged = try daemon.client.events(filter: filter).events.map(\.id)
        #expect(logged.count == 4)
        #expect(printed() == logged, "printed \(printed()), logged \(logged)")
    }
}
