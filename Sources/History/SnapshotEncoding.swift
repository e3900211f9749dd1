import ResmonSystem

// MARK: - Snapshot encoding

extension RoundRobinDatabase {
    /// The exact size of `encode(into:)`'s output, so a snapshot reserves its buffer once: an
    /// estimate short of it by a kilobyte a database doubled the buffer, and a snapshot of an
    /// 8 MB store peaked at 25 MB (heaptrack, with node_exporter plugged in).
    var encodedSize: Int {
        var size = 8 * 9 + 8 + kind.rawValue.utf8.count
        for archive in archives { size += 8 + archive.function.rawValue.utf8.count + 8 * 8 }
        size += 8
        for ring in rings { size += 8 + 8 + ring.encodedWords * 4 }
        return size
    }

    /// Version 3 (docs/HISTORY.md): per archive its definition, its consolidation in progress
    /// and its ring; then each ring as its runs or its plain rows, oldest first.
    func encode(into writer: inout ByteWriter) {
        writer.integer(step)
        writer.string(kind.rawValue)
        writer.integer(heartbeat)
        writer.double(minimum)
        writer.double(maximum)
        writer.integer(lastUpdate)
        writer.double(lastReading)
        writer.double(pdpValue)
        writer.integer(pdpUnknownSeconds)
        writer.integer(archives.count)
        for (index, archive) in archives.enumerated() {
            writer.string(archive.function.rawValue)
            writer.integer(archive.stepsPerRow)
            writer.integer(archive.rows)
            writer.double(archive.xff)
            let state = pendingConsolidation(index)
            writer.double(state.value)
            writer.double(state.primary)
            writer.double(state.secondary)
            writer.integer(state.unknownPDPs)
            writer.integer(ring(of: index))
        }
        writer.integer(rings.count)
        for ring in rings {
            switch ring.encoded {
            case .runs(let runs):
                writer.integer(RoundRobinDatabase.runsTag)
                writer.words(runs)
            case .plain(let rows):
                writer.integer(RoundRobinDatabase.plainTag)
                writer.words(rows)
            }
        }
    }

    /// How a version 3 snapshot marks a ring held as runs, or as plain rows.
    static let runsTag = 0
    static let plainTag = 1

    /// Reads a database of a snapshot of `version` 3, or of 1 and 2, which kept every ring as
    /// plain rows after the index of its newest row.
    init(decoding reader: inout ByteReader, version: Int) throws(SnapshotError) {
        step = try reader.integer(in: 1...86400)
        guard let kind = DataSourceKind(rawValue: try reader.string()) else { throw SnapshotError("unknown data-source kind") }
        self.kind = kind
        heartbeat = try reader.integer(in: 1...Int(Int32.max))
        minimum = try reader.double()
        maximum = try reader.double()
        lastUpdate = try reader.integer(in: 0...Int(Int64.max / 2))
        lastReading = try reader.double()
        pdpValue = try reader.double()
        pdpUnknownSeconds = try reader.integer(in: 0...Int(Int32.max))
        let count = try reader.integer(in: 0...RoundRobinDatabase.maximumArchives)
        var archives: [ArchiveDefinition] = []
        var consolidations: [Consolidation] = []
        var ringIndex: [Int] = []
        for _ in 0..<count {
            guard let function = ConsolidationFunction(rawValue: try reader.string()) else { throw SnapshotError("unknown consolidation function") }
            let stepsPerRow = try reader.integer(in: 1...10_000_000)
            let rows = try reader.integer(in: 1...1_000_000)
            let xff = try reader.double()
            archives.append(ArchiveDefinition(function, stepsPerRow: stepsPerRow, rows: rows, xff: xff))
            var state = Consolidation()
            state.value = try reader.double()
            state.primary = try reader.double()
            state.secondary = try reader.double()
            state.unknownPDPs = Int32(try reader.integer(in: 0...10_000_000))
            if stepsPerRow > 1 { consolidations.append(state) }
            ringIndex.append(try reader.integer(in: 0...63))
        }
        let ringCount = try reader.integer(in: 0...RoundRobinDatabase.maximumArchives)
        var decoded: [ArchiveRows] = []
        for _ in 0..<ringCount { decoded.append(try RoundRobinDatabase.decodeRing(&reader, version: version, rowCounts: archives, ringIndex)) }
        for (index, ring) in ringIndex.enumerated() where ring >= decoded.count || decoded[ring].count != archives[index].rows {
            throw SnapshotError("archive storage does not match its definition")
        }
        // Rings in archive order: a timescale's archives share one when the snapshot has them
        // share one, else each has its own (versions 1 and 2 appended parted rings at the end).
        var ringStarts: UInt64 = 0
        var rings: [ArchiveRows] = []
        var start = 0
        while start < archives.count {
            var end = start + 1
            while end < archives.count && RoundRobinDatabase.sameRows(archives[start], archives[end]) { end += 1 }
            let shared = ringIndex[start..<end].allSatisfy { $0 == ringIndex[start] }
            for index in start..<end where index == start || !shared {
                ringStarts |= 1 << UInt64(index)
                rings.append(decoded[ringIndex[index]])
            }
            start = end
        }
        // The standard layout's shared array, when the snapshot holds that layout.
        let standard = ArchiveDefinition.standard(step: step, tiers: max(1, archives.count / 4))
        self.archives = standard == archives ? standard : archives
        self.consolidations = consolidations
        self.ringStarts = ringStarts
        self.rings = rings
    }

    /// One ring of a snapshot: its rows count is that of an archive that uses it.
    private static func decodeRing(
        _ reader: inout ByteReader, version: Int, rowCounts archives: [ArchiveDefinition], _ ringIndex: [Int]
    ) throws(SnapshotError) -> ArchiveRows {
        guard version >= 3 else {
            let newest = try reader.integer(in: 0...1_000_000)
            let rows = try reader.floats()
            guard newest < rows.count else { throw SnapshotError("archive storage does not match its definition") }
            return ArchiveRows(Array(rows[(newest + 1)...] + rows[...newest]))
        }
        let tag = try reader.integer(in: 0...1)
        let words = try reader.words()
        // The archives' row counts bound the ring's (a run's length is checked against it).
        let count = tag == plainTag ? words.count : words.enumerated().reduce(0) { $0 + ($1.offset % 2 == 1 ? Int($1.element) : 0) }
        guard let rows = ArchiveRows(count: count, tag == plainTag ? .plain(words) : .runs(words)), count <= 1_000_000 else {
            throw SnapshotError("a ring's runs do not make its rows")
        }
        return rows
    }
}

/// A snapshot that cannot be read back.
public struct SnapshotError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// `HistoryStore.checksum` over bytes that come in pieces of any length: FNV-1a over 64-bit
/// little-endian words, then the tail bytes one by one.
struct StreamingChecksum {
    private var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    /// Bytes of a word not complete yet (fewer than eight).
    private var carry: [UInt8] = []

    mutating func add(_ bytes: [UInt8]) {
        var start = 0
        if !carry.isEmpty {
            let taken = min(8 - carry.count, bytes.count)
            carry += bytes[0..<taken]
            start = taken
            guard carry.count == 8 else { return }
            word(carry.span.littleEndianUInt64(at: 0))
            carry.removeAll(keepingCapacity: true)
        }
        let span = bytes.span.extracting(start...)
        let words = span.count / 8
        for index in 0..<words { word(span.littleEndianUInt64(at: index * 8)) }
        carry += bytes[(start + words * 8)...]
    }

    private mutating func word(_ value: UInt64) {
        hash ^= value
        hash &*= 0x0000_0100_0000_01b3
    }

    var value: UInt64 {
        var result = hash
        for byte in carry {
            result ^= UInt64(byte)
            result &*= 0x0000_0100_0000_01b3
        }
        return result
    }
}

/// Little-endian binary writing for snapshots.
struct ByteWriter {
    var bytes: [UInt8] = []

    /// Grows the buffer geometrically: appending raw buffers reserves exactly what they need,
    /// which made a 2 MB snapshot take 500 reallocations and over a second.
    private mutating func ensure(_ count: Int) {
        let needed = bytes.count + count
        if needed > bytes.capacity { bytes.reserveCapacity(max(needed, bytes.capacity * 2, 4096)) }
    }

    mutating func integer(_ value: Int) { raw64(UInt64(bitPattern: Int64(value))) }
    mutating func raw64(_ value: UInt64) {
        ensure(8)
        bytes.appendLittleEndian(value)
    }
    mutating func double(_ value: Double) { raw64(value.bitPattern) }
    mutating func string(_ value: String) {
        integer(value.utf8.count)
        ensure(value.utf8.count)
        bytes += value.utf8
    }
    mutating func floats(_ values: [Float]) {
        integer(values.count)
        ensure(values.count * 4)
        bytes.appendLittleEndian(contentsOf: values)
    }
    mutating func words(_ values: [UInt32]) {
        integer(values.count)
        ensure(values.count * 4)
        for value in values {
            for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
        }
    }
}

/// Bounds-checked reading of what `ByteWriter` wrote.
struct ByteReader {
    let bytes: [UInt8]
    var position: Int

    init(_ bytes: [UInt8], from position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    private mutating func take(_ count: Int) throws(SnapshotError) -> ArraySlice<UInt8> {
        guard count >= 0, position + count <= bytes.count else { throw SnapshotError("truncated") }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    mutating func raw64() throws(SnapshotError) -> UInt64 {
        let slice = try take(8)
        return slice.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    mutating func integer(in range: ClosedRange<Int> = Int(Int64.min / 2)...Int(Int64.max / 2)) throws(SnapshotError) -> Int {
        let value = Int(Int64(bitPattern: try raw64()))
        guard range.contains(value) else { throw SnapshotError("value \(value) out of range") }
        return value
    }

    mutating func double() throws(SnapshotError) -> Double { Double(bitPattern: try raw64()) }

    mutating func string() throws(SnapshotError) -> String {
        let count = try integer(in: 0...65536)
        return String(decoding: try take(count), as: UTF8.self)
    }

    mutating func floats() throws(SnapshotError) -> [Float] {
        let count = try integer(in: 0...10_000_000)
        return [Float](littleEndianBytes: try take(count * 4))
    }

    mutating func words() throws(SnapshotError) -> [UInt32] {
        let count = try integer(in: 0...10_000_000)
        let bytes = try take(count * 4)
        return (0..<count).map { word in
            let at = bytes.startIndex + word * 4
            return UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
        }
    }
}
