import Dispatch
import ResmonSystem
import Synchronization
import Testing

@testable import Statistics

@Suite struct StatisticKeyTests {
    @Test func parsesAndPrintsThreeParts() throws {
        let key = try #require(StatisticKey(parsing: "fs:/home:used_ratio"))
        #expect(key.subsystem == "fs" && key.resource == "/home" && key.statistic == "used_ratio")
        #expect(key.text == "fs:/home:used_ratio")
    }

    @Test func aColonInAResourceIsEscaped() throws {
        let key = StatisticKey(subsystem: "cgroup", resource: "/a:b%c", statistic: "memory_bytes")
        #expect(key.text == "cgroup:/a%3Ab%25c:memory_bytes")
        #expect(StatisticKey(parsing: key.text) == key)
    }

    @Test(arguments: ["", "cpu", "cpu:total", "CPU:total:usage", "cpu::usage", "cpu:a:b:c", "cpu:x%zz:usage", "cpu:x:Usage-1"])
    func rejectsMalformedKeys(_ text: String) {
        #expect(StatisticKey(parsing: text) == nil)
    }
}

@Suite struct SampleTableTests {
    func descriptor(_ key: String, _ kind: StatisticKind = .gauge, wrapsAt: Double? = nil) -> StatisticDescriptor {
        StatisticDescriptor(key: StatisticKey(parsing: key)!, kind: kind, unit: "bytes", help: "test", wrapsAt: wrapsAt)
    }

    @Test func registeringTwiceGivesTheSameHandle() {
        let table = SampleTable()
        let first = table.register(descriptor("a:x:b"))
        #expect(table.register(descriptor("a:x:b")) == first)
        #expect(table.handle(for: "a:x:b") == first)
        #expect(table.count == 1)
    }

    @Test func aRetiredSlotIsReusedUnderANewGeneration() {
        let table = SampleTable()
        let old = table.register(descriptor("a:x:b"))
        var batch = SampleBatch()
        batch.record(old, 5)
        table.apply(batch, time: 1, monotonicTime: 1)
        table.retire(old)
        #expect(table.sample(old) == nil)
        let new = table.register(descriptor("a:y:b"))
        #expect(new.index == old.index && new.generation != old.generation)
        #expect(table.sample(new)?.value.isNaN == true)
        table.apply(batch, time: 2, monotonicTime: 2)  // a stale handle writes nothing
        #expect(table.sample(new)?.value.isNaN == true)
    }

    @Test func countersKeepTotalRateAndIncrease() throws {
        let table = SampleTable()
        let handle = table.register(descriptor("a:x:bytes_total", .counter))
        for (time, total) in [(10.0, 100.0), (12.0, 300.0)] {
            var batch = SampleBatch()
            batch.record(handle, total)
            table.apply(batch, time: time, monotonicTime: time)
        }
        let sample = try #require(table.sample(handle))
        #expect(sample.total == 300 && sample.increase == 200 && sample.value == 100)
    }

    @Test func wrapAndReset() {
        let modulus = 4_294_967_296.0
        #expect(SampleTable.increase(from: modulus - 10, to: 5, wrapsAt: modulus) == 15)
        #expect(SampleTable.increase(from: 1000, to: 10, wrapsAt: modulus).isNaN)  // a small drop is a reset
        #expect(SampleTable.increase(from: 1000, to: 10, wrapsAt: nil).isNaN)
        #expect(SampleTable.increase(from: .nan, to: 10, wrapsAt: nil).isNaN)
        #expect(SampleTable.increase(from: 10, to: 10, wrapsAt: nil) == 0)
    }

    @Test func samplesAreFilteredAndSortedByKey() {
        let table = SampleTable()
        for key in ["b:x:c", "a:x:c", "a:x:b"] { _ = table.register(descriptor(key)) }
        #expect(table.samples { $0.hasPrefix("a:") }.map(\.descriptor.key.text) == ["a:x:b", "a:x:c"])
    }
}

@Suite struct BoundedRegexTests {
    @Test func searchesUnanchored() throws {
        let regex = try BoundedRegex("cpu[0-9]+:system")
        #expect(regex.matches("cpu:cpu12:usage_ratio") == false)
        #expect(try BoundedRegex("cpu[0-9]+").matches("cpu:cpu12:usage_ratio"))
        #expect(try BoundedRegex("^fs:.*ratio$").matches("fs:/home:used_ratio"))
    }

    @Test func aPatternIsCompiledOnceWhileItsUsersLiveAndSearchedFromManyThreads() throws {
        let shared = try BoundedRegex.shared("^app:[a-z]+[0-9]$")
        #expect(try BoundedRegex.shared("^app:[a-z]+[0-9]$") === shared)
        #expect(try BoundedRegex.shared("^app:[a-z]+[0-8]$") !== shared)
        let selectors = try (0..<3).map { _ in try Selector(match: "^app:[a-z]+[0-9]$", where: ["name~^ng"]) }
        #expect(selectors[0].keyPattern === shared && selectors[2].keyPattern === shared)
        #expect(selectors[0].matchers[0].regex === selectors[1].matchers[0].regex)
        // One compiled pattern searched from eight threads at once gives every answer right.
        let wrong = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            var mistakes = 0
            for round in 0..<2000 {
                if !shared.matches("app:nginx\(round % 10)") || shared.matches("app:Nginx1") { mistakes += 1 }
            }
            wrong.withLock { $0 += mistakes }
        }
        #expect(wrong.withLock { $0 } == 0)
        // A bad pattern is refused as before.
        #expect(throws: BoundedRegex.CompileError.self) { try BoundedRegex.shared("(unclosed") }
    }

    @Test func aBadPatternSaysWhy() {
        #expect(throws: BoundedRegex.CompileError.self) { try BoundedRegex("(unclosed") }
        do {
            _ = try BoundedRegex("[z-a]")
            Issue.record("an invalid range compiled")
        } catch {
            #expect(error.description.contains("[z-a]"))
        }
    }
}
