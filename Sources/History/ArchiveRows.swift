/// The rows of one ring of a round-robin database, oldest to newest, as float32.
///
/// Held as runs of equal values while there are few, else as a plain ring: a statistic that
/// never moves keeps a run or two a timescale, and a coarse timescale not yet filled keeps its
/// unknown rows as one run, where a plain ring of 366 rows took 1.5 KB from the first second
/// (issue 17). Runs cost 8 bytes each against 4 a row, so a ring turns plain when its runs would
/// take as much as its rows, and back to one run when its rows are all the same value again.
struct ArchiveRows: Sendable {
    /// Runs: every run but the oldest, oldest first, as pairs of (value's bit pattern, length),
    /// always fewer words than rows. Plain: every row's bit pattern, the newest at `newest`.
    private var words: [UInt32]
    private let rowCount: Int32
    /// Runs: the oldest run, kept here so that a ring of one value allocates nothing. Plain:
    /// `newest` and `newestRun` (24 bytes a ring rather than 32).
    private var oldestValue: UInt32
    private var oldestLength: Int32

    /// Plain: the index of the newest row.
    private var newest: Int32 {
        get { Int32(bitPattern: oldestValue) }
        set { oldestValue = UInt32(bitPattern: newValue) }
    }
    /// Plain: how many of the newest rows are all the newest row's value.
    private var newestRun: Int32 {
        get { oldestLength }
        set { oldestLength = newValue }
    }

    /// How many rows the ring holds.
    var count: Int { Int(rowCount) }

    /// A ring of `count` rows (at most `Int32.max`) of one value.
    init(count: Int, filledWith value: Float) {
        rowCount = Int32(count)
        words = []
        oldestValue = value.bitPattern
        oldestLength = Int32(count)
    }

    /// Plain rows, oldest first (a snapshot's), held as runs when they are few.
    init(_ values: [Float]) {
        self.init(count: values.count, filledWith: values.first ?? .nan)
        for value in values.dropFirst() { append(value, times: 1) }
    }

    private var isPlain: Bool { words.count == count }

    /// Writes `times` rows of one value as the newest; more than the ring holds fills it.
    mutating func append(_ value: Float, times: Int) {
        guard times > 0 else { return }
        let bits = value.bitPattern
        guard times < count else {
            words = []
            oldestValue = bits
            oldestLength = Int32(count)
            return
        }
        if isPlain {
            let previous = words[Int(newest)]
            for _ in 0..<times {
                newest = newest + 1 == Int32(count) ? 0 : newest + 1
                words[Int(newest)] = bits
            }
            newestRun = previous == bits ? min(Int32(count), newestRun + Int32(times)) : Int32(times)
            if newestRun == Int32(count) { self = ArchiveRows(count: count, filledWith: value) }
            return
        }
        let last = words.count - 2
        if words.isEmpty && oldestValue == bits { return }  // one run of the value already
        if last >= 0 && words[last] == bits {
            words[last + 1] += UInt32(times)
        } else {
            words.append(bits)
            words.append(UInt32(times))
        }
        var dropped = Int32(times)
        while dropped > 0 {
            if oldestLength > dropped {
                oldestLength -= dropped
                break
            }
            dropped -= oldestLength
            oldestValue = words[0]
            oldestLength = Int32(words[1])
            words.removeFirst(2)
        }
        if words.count + 2 >= count { makePlain() }
    }

    /// From runs to a plain ring, when the runs would take as much as the rows.
    private mutating func makePlain() {
        var rows: [UInt32] = []
        rows.reserveCapacity(count)
        rows.append(contentsOf: repeatElement(oldestValue, count: Int(oldestLength)))
        for pair in stride(from: 0, to: words.count, by: 2) {
            rows.append(contentsOf: repeatElement(words[pair], count: Int(words[pair + 1])))
        }
        let run = words.isEmpty ? oldestLength : Int32(words[words.count - 1])
        words = rows
        newestRun = run
        newest = Int32(count - 1)
    }

    /// The row `back` rows before the newest (0: the newest), `back` below `count`.
    func value(back: Int) -> Float {
        if isPlain { return Float(bitPattern: words[(Int(newest) - back + count) % count]) }
        var remaining = back
        var pair = words.count - 2
        while pair >= 0 {
            let length = Int(words[pair + 1])
            if remaining < length { return Float(bitPattern: words[pair]) }
            remaining -= length
            pair -= 2
        }
        return Float(bitPattern: oldestValue)
    }

    /// Every row, oldest first.
    var values: [Float] {
        var values: [Float] = []
        values.reserveCapacity(count)
        if isPlain {
            for offset in 1...count { values.append(Float(bitPattern: words[(Int(newest) + offset) % count])) }
            return values
        }
        values.append(contentsOf: repeatElement(Float(bitPattern: oldestValue), count: Int(oldestLength)))
        for pair in stride(from: 0, to: words.count, by: 2) {
            values.append(contentsOf: repeatElement(Float(bitPattern: words[pair]), count: Int(words[pair + 1])))
        }
        return values
    }

    /// Bytes of row storage: the rows of a plain ring, 8 a run beyond the first otherwise.
    var storageBytes: Int { words.count * MemoryLayout<UInt32>.size }

    /// Bytes on the heap, as malloc hands them out (a header of 32 bytes, 16 of malloc's own,
    /// rounded to 16), nothing for a ring of one run.
    var heapBytes: Int { words.capacity == 0 ? 0 : HeapAccounting.allocation(32 + words.capacity * 4) }

    // MARK: Snapshot form

    /// What a snapshot keeps: the runs (value, length), oldest first, or the plain rows.
    enum Encoded: Equatable {
        case runs([UInt32])
        case plain([UInt32])
    }

    var encoded: Encoded {
        if isPlain {
            return .plain(values.map(\.bitPattern))
        }
        return .runs([oldestValue, UInt32(oldestLength)] + words)
    }

    /// The encoded words' count, for `encodedSize`.
    var encodedWords: Int { isPlain ? count : words.count + 2 }

    /// Rows from a snapshot's runs or plain rows; nil when they do not make `count` rows.
    init?(count: Int, _ encoded: Encoded) {
        switch encoded {
        case .plain(let rows):
            guard rows.count == count, count > 0 else { return nil }
            self.init(rows.map { Float(bitPattern: $0) })
        case .runs(let runs):
            guard runs.count >= 2, runs.count % 2 == 0, count > 0 else { return nil }
            var total = 0
            for pair in stride(from: 0, to: runs.count, by: 2) {
                guard runs[pair + 1] > 0 else { return nil }
                total += Int(runs[pair + 1])
            }
            guard total == count else { return nil }
            self.init(count: count, filledWith: Float(bitPattern: runs[0]))
            oldestLength = Int32(runs[1])
            for pair in stride(from: 2, to: runs.count, by: 2) {
                let value = runs[pair]
                let length = Int(runs[pair + 1])
                // Appended as written, without dropping from the oldest: the lengths add up.
                if words.count >= 2 && words[words.count - 2] == value {
                    words[words.count - 1] += UInt32(length)
                } else if words.isEmpty && value == oldestValue {
                    oldestLength += Int32(length)
                } else {
                    words += [value, UInt32(length)]
                }
            }
            if words.count + 2 >= count { makePlain() }
        }
    }
}

/// Heap accounting as glibc's malloc allocates: a chunk is the request plus 8 bytes, rounded up
/// to 16, at least 32.
enum HeapAccounting {
    static func allocation(_ bytes: Int) -> Int { max(32, (bytes + 8 + 15) / 16 * 16) }
}
