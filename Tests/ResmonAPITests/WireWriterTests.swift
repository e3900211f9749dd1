import Foundation
import ResmonAPI
import Testing

/// Issue 17: the bulk create's specs and answer are written by hand (WireWriter), not through
/// JSONEncoder; the bytes must be exactly JSONEncoder's, so that stored specs still compare and
/// clients read the same answer.
@Suite struct WireWriterTests {
    /// A small deterministic generator (SplitMix64), so a failure can be replayed.
    final class Seeded {
        var state: UInt64
        init(state: UInt64) { self.state = state }
        func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var value = state
            value = (value ^ (value >> 30)) &* 0xbf58_476d_1ce4_e5b9
            value = (value ^ (value >> 27)) &* 0x94d0_49bb_1331_11eb
            return value ^ (value >> 31)
        }
    }

    static let strings = [
        "", "a", "cpu:total:busy_ratio", "fs:/home:used_ratio", "quote \" and \\ backslash", "tab\tnew\nline\rcr",
        "\u{8}\u{c}\u{0}\u{1}\u{1f}\u{7f}", "é", "e\u{301}", "日本語", "emoji 🚀", "\u{2028}\u{2029}", "</script>", "Z", "_", "-", "a.b"
    ]
    static let numbers: [Double] = [
        0, -0.0, 1, -1, 0.5, 1.5, 100, 1e15, 1e15 + 95_000, 9_007_199_254_740_992, 1e16, 1.2345678901234568e17, 1e21, 1e-5, 1e-7,
        0.0001, 0.1, 5e-324, 1.7976931348623157e308, -3.25e-10, 1_796_069_567.161992, 4.35e18, 0.3333333333333333
    ]

    static func pick<T>(_ values: [T], _ generator: Seeded) -> T { values[Int(generator.next() % UInt64(values.count))] }

    static func maybe<T>(_ value: @autoclosure () -> T, _ generator: Seeded) -> T? { generator.next() % 3 == 0 ? nil : value() }

    static func map(_ generator: Seeded) -> [String: String] {
        var map: [String: String] = [:]
        for _ in 0..<Int(generator.next() % 5) { map[pick(strings, generator) + pick(strings, generator)] = pick(strings, generator) }
        return map
    }

    static func spec(_ generator: Seeded) -> MonitorSpec {
        let target: MonitorTarget =
            generator.next() % 2 == 0
            ? .key(pick(strings, generator))
            : .selection(
                MonitorSelection(
                    select: pick(strings, generator), where: maybe(map(generator), generator),
                    aggregate: maybe(pick(strings, generator), generator), each: maybe(generator.next() % 2 == 0, generator)))
        var spec = MonitorSpec(target: target, condition: Condition(rawValue: pick(strings, generator)), value: pick(numbers, generator))
        spec.condition = maybe(spec.condition!, generator)
        spec.value = maybe(spec.value!, generator)
        spec.id = maybe(pick(strings, generator), generator)
        spec.name = maybe(pick(strings, generator), generator)
        spec.template = maybe(pick(strings, generator), generator)
        spec.source = maybe(pick(strings, generator), generator)
        spec.transform = maybe(Transform(rawValue: pick(strings, generator)), generator)
        spec.type = maybe(MonitorType(rawValue: pick(strings, generator)), generator)
        spec.mark = maybe(pick(strings, generator), generator)
        spec.events = maybe(generator.next() % 2 == 0, generator)
        spec.bucketSize = maybe(pick(numbers, generator), generator)
        spec.fillValue = maybe(pick(numbers, generator), generator)
        spec.tolerance = maybe(pick(numbers, generator), generator)
        if generator.next() % 2 == 0 {
            spec.precondition = MonitorPrecondition(
                armed: maybe(generator.next() % 2 == 0, generator), monitor: maybe(pick(strings, generator), generator),
                raised: maybe(generator.next() % 2 == 0, generator))
        }
        spec.staleAfter = maybe(pick(numbers, generator), generator)
        spec.samples = maybe(Int(truncatingIfNeeded: generator.next()) >> Int(generator.next() % 64), generator)
        spec.cancelValue = maybe(pick(numbers, generator), generator)
        spec.cancelSamples = maybe(Int(generator.next() % 100_000), generator)
        spec.severity = maybe(Severity(rawValue: pick(strings, generator)), generator)
        spec.cancelSeverity = maybe(Severity(rawValue: pick(strings, generator)), generator)
        spec.loggingRate = maybe(pick(numbers, generator), generator)
        spec.monitoringRate = maybe(pick(numbers, generator), generator)
        spec.microMonitoringRate = maybe(-Int(generator.next() % 1000), generator)
        spec.monitoringInterval = maybe(pick(numbers, generator), generator)
        spec.dataCapture = maybe(generator.next() % 2 == 0, generator)
        spec.labels = maybe(map(generator), generator)
        spec.annotations = maybe(map(generator), generator)
        spec.start = maybe(generator.next() % 2 == 0, generator)
        return spec
    }

    static func info(_ generator: Seeded) -> MonitorInfo {
        let state = MonitorStateInfo(
            phase: pick(strings, generator), count: Int(truncatingIfNeeded: generator.next()), running: generator.next() % 2 == 0,
            paused: generator.next() % 2 == 0, notified: generator.next() % 2 == 0, lastValue: maybe(pick(numbers, generator), generator),
            lastEvaluated: maybe(pick(numbers, generator), generator), raisedAt: maybe(pick(numbers, generator), generator),
            lastEventTime: maybe(pick(numbers, generator), generator), watermark: maybe(pick(numbers, generator), generator),
            watermarkTime: maybe(pick(numbers, generator), generator), level: maybe(pick(numbers, generator), generator),
            members: maybe(Int(generator.next() % 1000), generator), warning: maybe(pick(strings, generator), generator))
        return MonitorInfo(
            id: pick(strings, generator), spec: spec(generator), owner: Int(generator.next() % 70_000), createdAt: pick(numbers, generator),
            state: state)
    }

    static func encoded(_ value: some Encodable) throws -> String { String(decoding: try WireJSON.encoder().encode(value), as: UTF8.self) }

    @Test(arguments: 0..<20) func aSpecIsTheSameBytesAsJSONEncoders(seed: UInt64) throws {
        let generator = Seeded(state: seed)
        for _ in 0..<200 {
            let spec = WireWriterTests.spec(generator)
            let written = String(decoding: try spec.wireJSON(), as: UTF8.self)
            let expected = try WireWriterTests.encoded(spec)
            #expect(written == expected)
            if written != expected { return }
        }
    }

    @Test(arguments: 0..<10) func aListOfMonitorsIsTheSameBytesAsJSONEncoders(seed: UInt64) throws {
        let generator = Seeded(state: 1000 + seed)
        let list = MonitorList(monitors: (0..<Int(generator.next() % 50)).map { _ in WireWriterTests.info(generator) })
        #expect(String(decoding: try list.wireJSON(), as: UTF8.self) == (try WireWriterTests.encoded(list)))
        for monitor in list.monitors {
            var writer = WireWriter()
            try monitor.write(to: &writer, spec: try monitor.spec.wireJSON())
            #expect(String(decoding: writer.bytes, as: UTF8.self) == (try WireWriterTests.encoded(monitor)))
        }
    }

    @Test(arguments: 0..<10) func aListOfStatisticsIsTheSameBytesAsJSONEncoders(seed: UInt64) throws {
        let generator = Seeded(state: 2000 + seed)
        let list = StatisticList(
            statistics: (0..<Int(generator.next() % 40)).map { _ in
                StatisticInfo(
                    key: Self.pick(Self.strings, generator), subsystem: Self.pick(Self.strings, generator), resource: Self.pick(Self.strings, generator),
                    statistic: Self.pick(Self.strings, generator), kind: Self.pick(["gauge", "counter"], generator), unit: Self.pick(Self.strings, generator),
                    resolution: Self.pick(Self.numbers, generator), upperBound: Self.maybe(Self.pick(Self.numbers, generator), generator),
                    labels: Self.map(generator),
                    help: Self.pick(Self.strings, generator), value: Self.maybe(Self.pick(Self.numbers, generator), generator),
                    total: Self.maybe(Self.pick(Self.numbers, generator), generator), increase: Self.maybe(Self.pick(Self.numbers, generator), generator),
                    time: Self.maybe(Self.pick(Self.numbers, generator), generator))
            })
        #expect(String(decoding: try list.wireJSON(), as: UTF8.self) == (try WireWriterTests.encoded(list)))
    }

    @Test func aNumberThatIsNotFiniteIsRefusedAsJSONEncoderRefusesIt() {
        for value in [Double.nan, .infinity, -.infinity] {
            let spec = MonitorSpec(target: "cpu:total:busy_ratio", condition: .above, value: value)
            #expect(throws: WireWriter.NonFiniteNumber.self) { try spec.wireJSON() }
            #expect(throws: (any Error).self) { try WireJSON.encoder().encode(spec) }
        }
    }
}
