import ResmonSystem

// MARK: - Snapshot encoding

extension RoundRobinDatabase {
    /// The exact size of `encode(into:)`'s output, so a snapshot reserves its buffer once: an
    /// estimate short of it by a kilobyte a database doubled the buffer, and a snapshot of an
    /// 8 MB store peaked at 25 MB (heaptrack, with node_exporter plugged in).
    var encodedSize: Int {
        var size = 8 * 8 + 8 + kind.rawValue.utf8.count + 8
        if standardTiers == nil {
            size += 8
            for archive in archives { size += 8 + archive.function.rawValue.utf8.count + 8 * 3 }
        }
        size += consolidations.count * 8 * 4 + 8
        for ring in rings { size += 8 + 8 + ring.encodedWords * 4 }
        return size
    }

    /// How many timescales of the standard layout the database has, nil for another layout.
    private var standardTiers: Int? {
        let tiers = archives.count / 4
        guard tiers >= 1, tiers <= 4, archives == ArchiveDefinition.standard(step: step, tiers: tiers) else { return nil }
        return tiers
    }

    /// Version 3 (docs/HISTORY.md): the data source; its layout, as the standard layout's
    /// timescales or each archive's definition; the consolidation in progress of each archive of
    /// more than one step per row; which archives start a ring; each ring as runs or plain rows.
    /// Version 2 wrote every archive's definition, state and ring index, 1.2 KB a database.
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
        if let tiers = standardTiers {
            writer.integer(tiers)
        } else {
            writer.integer(0)
            writer.integer(archives.count)
            for archive in archives {
                writer.string(archive.function.rawValue)
                writer.integer(archive.stepsPerRow)
                writer.integer(archive.rows)
                writer.double(archive.xff)
            }
        }
        for state in consolidations {
            writer.double(state.value)
            writer.double(state.primary)
            writer.double(state.secondary)
            writer.integer(Int(state.unknownPDPs))
        }
        writer.raw64(ringStarts)
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

    /// Reads a database of a snapshot of `version` 3, or of 1 and 2 (`decodeVersionTwo`).
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
        let body =
            version >= 3
            ? try RoundRobinDatabase.decodeVersionThree(&reader, step: step)
            : try RoundRobinDatabase.decodeVersionTwo(&reader)
        // The standard layout's shared array, when the snapshot holds that layout.
        let standard = ArchiveDefinition.standard(step: step, tiers: max(1, body.archives.count / 4))
        self.archives = standard == body.archives ? standard : body.archives
        self.consolidations = body.consolidations
        self.ringStarts = body.ringStarts
        self.rings = body.rings
    }

    typealias DecodedBody = (archives: [ArchiveDefinition], consolidations: [Consolidation], ringStarts: UInt64, rings: [ArchiveRows])

    private static func decodeArchive(_ reader: inout ByteReader) throws(SnapshotError) -> ArchiveDefinition {
        guard let function = ConsolidationFunction(rawValue: try reader.string()) else { throw SnapshotError("unknown consolidation function") }
        let stepsPerRow = try reader.integer(in: 1...10_000_000)
        let rows = try reader.integer(in: 1...1_000_000)
        return ArchiveDefinition(function, stepsPerRow: stepsPerRow, rows: rows, xff: try reader.double())
    }

    private static func decodeConsolidation(_ reader: inout ByteReader) throws(SnapshotError) -> Consolidation {
        var state = Consolidation()
        state.value = try reader.double()
        state.primary = try reader.double()
        state.secondary = try reader.double()
        state.unknownPDPs = Int32(try reader.integer(in: 0...10_000_000))
        return state
    }

    private static func decodeVersionThree(_ reader: inout ByteReader, step: Int) throws(SnapshotError) -> DecodedBody {
        let tiers = try reader.integer(in: 0...4)
        var archives: [ArchiveDefinition] = []
        if tiers > 0 {
            archives = ArchiveDefinition.standard(step: step, tiers: tiers)
        } else {
            let count = try reader.integer(in: 0...RoundRobinDatabase.maximumArchives)
            for _ in 0..<count { archives.append(try decodeArchive(&reader)) }
        }
        var consolidations: [Consolidation] = []
        for archive in archives where archive.stepsPerRow > 1 { consolidations.append(try decodeConsolidation(&reader)) }
        let ringStarts = try reader.raw64()
        // Which archives start a ring: the first; never one continuing an archive of another
        // row size; in a timescale, the first alone (shared) or every one (parted).
        var start = 0
        var rings: [ArchiveRows] = []
        guard archives.count == 64 || ringStarts >> UInt64(archives.count) == 0, archives.isEmpty || ringStarts & 1 == 1 else {
            throw SnapshotError("the archives' rings do not match their definitions")
        }
        while start < archives.count {
            var end = start + 1
            while end < archives.count && sameRows(archives[start], archives[end]) { end += 1 }
            let starting = (start..<end).filter { (ringStarts >> UInt64($0)) & 1 == 1 }
            guard starting == [start] || starting.count == end - start else {
                throw SnapshotError("the archives' rings do not match their definitions")
            }
            for archive in starting {
                let tag = try reader.integer(in: 0...1)
                let words = try reader.words()
                guard let ring = ArchiveRows(count: archives[archive].rows, tag == plainTag ? .plain(words) : .runs(words)) else {
                    throw SnapshotError("a ring's runs do not make its rows")
                }
                rings.append(ring)
            }
            start = end
        }
        return (archives, consolidations, ringStarts, rings)
    }

    /// Versions 1 and 2: every archive's definition, consolidation and ring index, then every
    /// ring as the index of its newest row and its rows (parted rings appended at the end).
    private static func decodeVersionTwo(_ reader: inout ByteReader) throws(SnapshotError) -> DecodedBody {
        let count = try reader.integer(in: 0...RoundRobinDatabase.maximumArchives)
        var archives: [ArchiveDefinition] = []
        var consolidations: [Consolidation] = []
        var ringIndex: [Int] = []
        for _ in 0..<count {
            let archive = try decodeArchive(&reader)
            archives.append(archive)
            let state = try decodeConsolidation(&reader)
            if archive.stepsPerRow > 1 { consolidations.append(state) }
            ringIndex.append(try reader.integer(in: 0...63))
        }
        let ringCount = try reader.integer(in: 0...RoundRobinDatabase.maximumArchives)
        var decoded: [ArchiveRows] = []
        for _ in 0..<ringCount {
            let newest = try reader.integer(in: 0...1_000_000)
            let rows = try reader.floats()
            guard newest < rows.count else { throw SnapshotError("archive storage does not match its definition") }
            decoded.append(ArchiveRows(Array(rows[(newest + 1)...] + rows[...newest])))
        }
        for (index, ring) in ringIndex.enumerated() where ring >= decoded.count || decoded[ring].count != archives[index].rows {
            throw SnapshotError("archive storage does not match its definition")
        }
        // Rings in archive order: a timescale's archives share one when the snapshot has them
        // share one, else each has its own.
        var ringStarts: UInt64 = 0
        var rings: [ArchiveRows] = []
        var start = 0
        while start < archives.count {
            var end = start + 1
            while end < archives.count && sameRows(archives[start], archives[end]) { end += 1 }
            let shared = ringIndex[start..<end].allSatisfy { $0 == ringIndex[start] }
            for index in start..<end where index == start || !shared {
                ringStarts |= 1 << UInt64(index)
                rings.append(decoded[ringIndex[index]])
            }
            start = end
        }
        return (archives, consolidations, ringStarts, rings)
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
