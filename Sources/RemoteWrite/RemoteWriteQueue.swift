import Statistics

/// The series remote_write sends, laid out when the sample table's structure changes (a
/// statistic comes, goes or changes labels): each one's slot in the table and its labels,
/// encoded once. Immutable: the samples queued under a layout keep it alive.
final class SeriesLayout: Sendable {
    /// The sample table's `structureVersion` it was laid out from.
    let version: UInt64
    let slots: [Int32]
    let generations: [UInt32]
    /// Each series' `labels` fields of a TimeSeries (`__name__` and the extra labels among them).
    let labels: [[UInt8]]

    init(version: UInt64, slots: [Int32], generations: [UInt32], labels: [[UInt8]]) {
        self.version = version
        self.slots = slots
        self.generations = generations
        self.labels = labels
    }

    var count: Int { slots.count }
}

/// The samples one cycle took, as indices into their layout's series.
struct SampleChunk {
    let layout: SeriesLayout
    var series: [Int32] = []
    var values: [Double] = []
    var milliseconds: [Int64] = []
    /// Samples before this one are gone (sent or dropped).
    var start = 0

    var count: Int { series.count - start }
}

/// The samples waiting to be sent, oldest first, bounded: past `limit` (with the batch being
/// sent) the oldest are dropped and counted.
struct SampleQueue {
    private(set) var chunks: [SampleChunk] = []
    /// Samples in `chunks`.
    private(set) var count = 0
    /// Samples in the request being sent or retried.
    var inFlight = 0
    private(set) var dropped = 0

    mutating func append(_ chunk: SampleChunk, limit: Int) {
        if chunk.count > 0 {
            chunks.append(chunk)
            count += chunk.count
        }
        while count + inFlight > limit, !chunks.isEmpty {
            let excess = min(count + inFlight - limit, chunks[0].count)
            chunks[0].start += excess
            count -= excess
            dropped += excess
            if chunks[0].count == 0 { chunks.removeFirst() }
        }
    }

    /// Takes up to `maximum` of the oldest samples.
    mutating func take(_ maximum: Int) -> [SampleChunk] {
        var taken: [SampleChunk] = []
        var wanted = maximum
        while wanted > 0, !chunks.isEmpty {
            let available = chunks[0].count
            if available <= wanted {
                taken.append(chunks.removeFirst())
                wanted -= available
                count -= available
            } else {
                var part = SampleChunk(layout: chunks[0].layout)
                let range = chunks[0].start..<(chunks[0].start + wanted)
                part.series = Array(chunks[0].series[range])
                part.values = Array(chunks[0].values[range])
                part.milliseconds = Array(chunks[0].milliseconds[range])
                chunks[0].start += wanted
                count -= wanted
                wanted = 0
                taken.append(part)
            }
        }
        return taken
    }
}

extension RemoteWriteEncoding {
    /// A WriteRequest of the samples taken: one TimeSeries per series, its samples in the order
    /// they were taken (time order, as the receiver requires).
    static func writeRequest(_ chunks: [SampleChunk]) -> [UInt8] {
        // Each layout's series' places among the TimeSeries, looked up per chunk, not per sample.
        var positions: [ObjectIdentifier: [Int32]] = [:]
        var entries: [(labels: [UInt8], samples: ProtobufWriter)] = []
        for chunk in chunks {
            let layout = ObjectIdentifier(chunk.layout)
            var places = positions.removeValue(forKey: layout) ?? [Int32](repeating: -1, count: chunk.layout.count)
            for index in chunk.start..<chunk.series.count {
                let series = Int(chunk.series[index])
                if places[series] < 0 {
                    places[series] = Int32(entries.count)
                    entries.append((chunk.layout.labels[series], ProtobufWriter()))
                }
                appendSample(chunk.values[index], milliseconds: chunk.milliseconds[index], to: &entries[Int(places[series])].samples)
            }
            positions[layout] = places
        }
        var writer = ProtobufWriter()
        for entry in entries { appendSeries(labels: entry.labels, samples: entry.samples.bytes, to: &writer) }
        return writer.bytes
    }
}
