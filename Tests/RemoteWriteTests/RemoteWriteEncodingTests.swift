import Testing

@testable import RemoteWrite

/// The bytes remote_write sends: protobuf by hand against encodings worked out from the
/// protobuf specification, and snappy's block format.
@Suite struct RemoteWriteEncodingTests {
    /// `WriteRequest{timeseries: [{labels: [__name__="up", job="a"], samples: [{1.0, 1000}]}]}`.
    @Test func aWriteRequestEncodesAsProtobuf() {
        let body = RemoteWriteEncoding.writeRequest([
            (labels: [(name: "job", value: "a"), (name: "__name__", value: "up")], samples: [(value: 1.0, milliseconds: 1000)])
        ])
        let name: [UInt8] = [0x0a, 0x0e, 0x0a, 0x08] + Array("__name__".utf8) + [0x12, 0x02] + Array("up".utf8)
        let job: [UInt8] = [0x0a, 0x08, 0x0a, 0x03] + Array("job".utf8) + [0x12, 0x01] + Array("a".utf8)
        // A double is fixed64, little-endian (1.0 is 0x3ff0000000000000); 1000 is the varint e8 07.
        let sample: [UInt8] = [0x12, 0x0c, 0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xe8, 0x07]
        // Labels sorted by name: `__name__` before `job`.
        #expect(body == [0x0a, 0x28] + name + job + sample)
    }

    @Test func varintsAndNegativeTimestamps() {
        var writer = ProtobufWriter()
        writer.varint(300)
        #expect(writer.bytes == [0xac, 0x02])
        writer = ProtobufWriter()
        writer.int64(2, -1)
        // An int64 below zero takes ten bytes: its two's complement as a varint.
        #expect(writer.bytes == [0x10] + [UInt8](repeating: 0xff, count: 9) + [0x01])
        writer = ProtobufWriter()
        writer.double(1, -2.5)
        #expect(writer.bytes == [0x09, 0, 0, 0, 0, 0, 0, 0x04, 0xc0])
    }

    /// Samples queued over several cycles go out as one TimeSeries per series, in time order.
    @Test func queuedSamplesGroupBySeries() throws {
        let layout = SeriesLayout(
            version: 1, slots: [0, 1], generations: [0, 0],
            labels: [RemoteWriteEncoding.labels([("__name__", "a")]), RemoteWriteEncoding.labels([("__name__", "b")])])
        var queue = SampleQueue()
        for cycle in 0..<3 {
            queue.append(
                SampleChunk(layout: layout, series: [0, 1], values: [Double(cycle), 10], milliseconds: [Int64(cycle), Int64(cycle)]),
                limit: 100)
        }
        let body = RemoteWriteEncoding.writeRequest(queue.take(100))
        let expected = RemoteWriteEncoding.writeRequest([
            (labels: [("__name__", "a")], samples: [(0, 0), (1, 1), (2, 2)]),
            (labels: [("__name__", "b")], samples: [(10, 0), (10, 1), (10, 2)])
        ])
        #expect(body == expected)
        #expect(queue.count == 0)
    }

    /// Past its bound the queue drops the oldest samples, counting them; a batch may end inside
    /// a cycle's samples and the next one starts where it ended.
    @Test func theQueueDropsTheOldestAndTakesInOrder() {
        let layout = SeriesLayout(version: 1, slots: [0, 1, 2], generations: [0, 0, 0], labels: [[], [], []])
        var queue = SampleQueue()
        for cycle in 0..<4 {
            let time = Int64(cycle)
            queue.append(SampleChunk(layout: layout, series: [0, 1, 2], values: [1, 2, 3], milliseconds: [time, time, time]), limit: 8)
        }
        #expect(queue.count == 8)
        #expect(queue.dropped == 4)
        let first = queue.take(2)
        #expect(first.flatMap { chunk in chunk.milliseconds[chunk.start...] } == [1, 1])
        #expect(first.flatMap { chunk in chunk.series[chunk.start...] } == [1, 2])
        queue.inFlight = 2
        // With two in flight, a new cycle pushes out three more of the oldest.
        queue.append(SampleChunk(layout: layout, series: [0, 1, 2], values: [1, 2, 3], milliseconds: [4, 4, 4]), limit: 8)
        #expect(queue.count == 6 && queue.dropped == 7)
        let rest = queue.take(100)
        #expect(rest.flatMap { chunk in chunk.milliseconds[chunk.start...] } == [3, 3, 3, 4, 4, 4])
    }

    @Test func snappyBlockFormat() throws {
        // A literal: the length as a varint, then tag (length - 1) << 2 and the bytes.
        #expect(try Snappy.compress(Array("abc".utf8)) == [0x03, 0x08, 0x61, 0x62, 0x63])
        let text = Array(String(repeating: "resmon_cpu_seconds_total{resource=\"cpu0\"} ", count: 500).utf8)
        let compressed = try Snappy.compress(text)
        #expect(compressed.count < text.count / 10)
        #expect(try Snappy.uncompress(compressed) == text)
        #expect(throws: Snappy.Failure.self) { try Snappy.uncompress([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]) }
    }
}
