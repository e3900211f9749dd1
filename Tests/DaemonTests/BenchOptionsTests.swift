import BenchSupport
import ResmonSystem
import Testing

/// resmon-bench's command line: the Makefile's invocations and the documented flags parse to what
/// the bench ran before the flags became declarations; mistakes are refused, not ignored.
@Suite struct BenchOptionsTests {
    @Test func makeBenchRunsEverySectionButThePeers() throws {
        let options = try BenchOptions(arguments: ["--resmond", "/r/.build/release/resmond", "--output", "bench/results.json"])
        #expect(options.resmondPath == "/r/.build/release/resmond")
        #expect(options.outputPath == "bench/results.json")
        #expect(options.only == nil && !options.peers && options.hotFunctionsPath == nil)
        #expect(BenchOptions.Section.allCases.allSatisfy(options.wants))
        #expect(options.idleSeconds == 60 && options.maxMonitors == Int.max)
    }

    @Test func thePeersRunAlsoMeasuresTheSampleAndTheArchives() throws {
        let options = try BenchOptions(arguments: ["--peers", "--resmond", "/x/resmond", "--output", "bench/peers.json"])
        #expect(options.peers && options.only == .peers)
        #expect(BenchOptions.Section.allCases.filter(options.wants) == [.sample, .archive, .peers])
    }

    @Test func oneSectionWithFewerMonitors() throws {
        let options = try BenchOptions(arguments: ["--only", "monitors", "--max-monitors", "100000", "--seconds=20"])
        #expect(BenchOptions.Section.allCases.filter(options.wants) == [.monitors])
        #expect(options.maxMonitors == 100_000 && options.idleSeconds == 20)
    }

    @Test func hotFunctions() throws {
        let options = try BenchOptions(arguments: ["--hot-functions", "/r/Sources/resmond/hot-functions.txt", "--resmond", "/r/resmond"])
        #expect(options.hotFunctionsPath == "/r/Sources/resmond/hot-functions.txt")
        #expect(options.resmondPath == "/r/resmond")
    }

    @Test(arguments: [["--only", "monitor"], ["--seconds", "ten"], ["--max-monitors", "-1"], ["--verbose"], ["monitors"], ["--output"]])
    func mistakesAreRefused(_ arguments: [String]) {
        #expect(throws: ArgumentError.self) { try BenchOptions(arguments: arguments) }
    }

    @Test func helpListsEveryFlag() throws {
        #expect(try BenchOptions(arguments: ["-h"]).help)
        for flag in ["--resmond PATH", "--output FILE", "--seconds N", "--only SECTION", "--peers", "--max-monitors N", "--hot-functions FILE", "-h, --help"] {
            #expect(BenchOptions.usage.contains(flag), "\(flag)")
        }
    }
}
