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
        // Every section but the soak, which `make soak` runs alone for an hour.
        #expect(BenchOptions.Section.allCases.filter(options.wants) == BenchOptions.Section.allCases.filter { $0 != .soak })
        #expect(options.idleSeconds == 60 && options.maxMonitors == Int.max)
        // Users' path: monitors through the API at three scales, each soaked five minutes.
        #expect(options.apiMonitors == [10_000, 100_000, 1_000_000] && options.soakSeconds == 300)
    }

    /// The peers' section measures the sample and the archives itself, in each of its runs.
    @Test func thePeersRunThreeTimesByDefault() throws {
        let options = try BenchOptions(arguments: ["--peers", "--resmond", "/x/resmond", "--output", "bench/peers.json"])
        #expect(options.peers && options.only == .peers && options.runs == 3)
        #expect(BenchOptions.Section.allCases.filter(options.wants) == [.peers])
        #expect(try BenchOptions(arguments: ["--peers", "--runs", "5"]).runs == 5)
    }

    @Test func makeSoakRunsTheSoakAlone() throws {
        let options = try BenchOptions(arguments: ["--only", "soak", "--soak", "3600", "--resmond", "/r/resmond", "--output", "bench/soak.json"])
        #expect(BenchOptions.Section.allCases.filter(options.wants) == [.soak] && options.soakSeconds == 3600)
    }

    @Test func aQuickAPIRun() throws {
        let options = try BenchOptions(arguments: ["--only", "api", "--api-monitors", "1000,20000", "--soak", "20"])
        #expect(BenchOptions.Section.allCases.filter(options.wants) == [.api])
        #expect(options.apiMonitors == [1_000, 20_000] && options.soakSeconds == 20)
    }

    @Test func statisticsAtScale() throws {
        let options = try BenchOptions(arguments: ["--only", "statistics", "--statistics", "2000", "--soak", "120"])
        #expect(BenchOptions.Section.allCases.filter(options.wants) == [.statistics])
        #expect(options.statistics == 2_000 && options.soakSeconds == 120)
        #expect(BenchOptions().statistics == 10_000 && BenchOptions().inUseSeconds == 600)
        #expect(try BenchOptions(arguments: ["--only", "daemon", "--in-use", "60"]).inUseSeconds == 60)
        #expect(throws: ArgumentError.self) { try BenchOptions(arguments: ["--in-use", "39"]) }
        #expect(throws: ArgumentError.self) { try BenchOptions(arguments: ["--statistics", "0"]) }
    }

    @Test func oneSectionWithFewerMonitors() throws {
        let options = try BenchOptions(arguments: ["--only", "monitors", "--max-monitors", "100000", "--seconds=20"])
        #expect(BenchOptions.Section.allCases.filter(options.wants) == [.monitors])
        #expect(options.maxMonitors == 100_000 && options.idleSeconds == 20)
    }

    /// `make bench`'s inline section calls resmon_inline_update in the release libresmon.
    @Test func theInlineSectionAndTheLibraryItCalls() throws {
        let options = try BenchOptions(arguments: ["--only", "inline", "--libresmon", "/r/.build/lib/libresmon.so.1"])
        #expect(BenchOptions.Section.allCases.filter(options.wants) == [.inline])
        #expect(options.libresmonPath == "/r/.build/lib/libresmon.so.1")
        #expect(BenchOptions().libresmonPath == "./.build/lib/libresmon.so.1")
        #expect(BenchOptions.usage.contains("--libresmon PATH"))
    }

    @Test func hotFunctions() throws {
        let options = try BenchOptions(arguments: ["--hot-functions", "/r/Sources/resmond/hot-functions.txt", "--resmond", "/r/resmond"])
        #expect(options.hotFunctionsPath == "/r/Sources/resmond/hot-functions.txt")
        #expect(options.resmondPath == "/r/resmond")
    }

    @Test(arguments: [
        ["--only", "monitor"], ["--seconds", "ten"], ["--max-monitors", "-1"], ["--verbose"], ["monitors"], ["--output"],
        ["--api-monitors", "10k"], ["--api-monitors", "1000,"], ["--api-monitors", "0"], ["--soak", "0"], ["--runs", "0"]
    ])
    func mistakesAreRefused(_ arguments: [String]) {
        #expect(throws: ArgumentError.self) { try BenchOptions(arguments: arguments) }
    }

    @Test func helpListsEveryFlag() throws {
        #expect(try BenchOptions(arguments: ["-h"]).help)
        for flag in [
            "--resmond PATH", "--output FILE", "--seconds N", "--only SECTION", "--peers", "--max-monitors N", "--hot-functions FILE", "-h, --help",
            "--api-monitors N,N,…", "--soak SECONDS", "--runs N"
        ] {
            #expect(BenchOptions.usage.contains(flag), "\(flag)")
        }
    }
}
