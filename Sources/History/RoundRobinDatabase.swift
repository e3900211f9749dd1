import ResmonSystem

/// How a data source's raw readings become rates (rrdtool's data-source types).
public enum DataSourceKind: String, Sendable, Codable {
    /// The reading is the rate.
    case gauge = "GAUGE"
    /// A monotonic count; a decrease is a 32- or 64-bit wrap.
    case counter = "COUNTER"
    /// A count whose change may be negative; a reset gives a negative rate (use min 0 to drop it).
    case derive = "DERIVE"
    /// A count reset at each reading: the reading divided by the interval.
    case absolute = "ABSOLUTE"
}

/// How rows of one archive summarize the primary data points they cover.
public enum ConsolidationFunction: String, Sendable, Codable, CaseIterable {
    case average = "AVERAGE", minimum = "MIN", maximum = "MAX", last = "LAST"

    /// Parses `average`, `AVERAGE`, `min`, `max`, `last`.
    public init?(name: String) {
        switch name.uppercased() {
        case "AVERAGE", "AVG": self = .average
        case "MIN", "MINIMUM": self = .minimum
        case "MAX", "MAXIMUM": self = .maximum
        case "LAST": self = .last
        default: return nil
        }
    }
}

/// The shape of one round-robin archive.
public struct ArchiveDefinition: Sendable, Equatable, Codable {
    public let function: ConsolidationFunction
    public let stepsPerRow: Int
    public let rows: Int
    public let xff: Double

    public init(_ function: ConsolidationFunction, stepsPerRow: Int, rows: Int, xff: Double = 0.5) {
        self.function = function
        self.stepsPerRow = stepsPerRow
        self.rows = rows
        self.xff = xff
    }

    /// xcp-rrdd's timescales for a base step: 120 × 1 step, 120 × 1 min, 168 × 1 h, 366 × 1 day,
    /// each with AVERAGE, MIN, MAX and LAST; `tiers` keeps only the finest ones.
    public static func standard(step: Int, tiers: Int = 4) -> [ArchiveDefinition] {
        if let shared = sharedStandard.withLock({ $0[StandardKey(step: step, tiers: tiers)] }) { return shared }
        let definitions = makeStandard(step: step, tiers: tiers)
        sharedStandard.withLock { $0[StandardKey(step: step, tiers: tiers)] = definitions }
        return definitions
    }

    /// One array per layout, which every database of that layout shares (copy on write): each
    /// database held its own 16 definitions, 560 bytes.
    private static let sharedStandard = Lock<[StandardKey: [ArchiveDefinition]]>([:])

    private struct StandardKey: Hashable {
        var step: Int
        var tiers: Int
    }

    private static func makeStandard(step: Int, tiers: Int) -> [ArchiveDefinition] {
        let timescales = [(1, 120), (max(1, 60 / step), 120), (max(1, 3600 / step), 168), (max(1, 86400 / step), 366)]
        return timescales.prefix(max(1, min(4, tiers))).flatMap { stepsPerRow, rows in
            ConsolidationFunction.allCases.map { ArchiveDefinition($0, stepsPerRow: stepsPerRow, rows: rows) }
        }
    }
}

/// One data source with its round-robin archives, updated and consolidated exactly as
/// rrdtool does (rrd_update.c): rates are integrated into primary data points (PDPs) of one
/// step, a PDP more than half unknown is unknown, and archives consolidate PDPs into rows,
/// a row with more than `xff` of its PDPs unknown being unknown. Rows are float32, as in xcp-rrdd.
///
/// Archives of one step per row hold the same values whatever their function, so they share
/// one ring of storage; so do a coarser timescale's functions while their rows are all equal.
/// A ring keeps its rows as runs of one value while that is smaller (`ArchiveRows`).
public struct RoundRobinDatabase: Sendable {
    public let step: Int
    public let kind: DataSourceKind
    /// Seconds after which an update counts as unknown.
    public let heartbeat: Int
    public let minimum: Double
    public let maximum: Double
    public let archives: [ArchiveDefinition]

    /// Time of the last update, whole seconds.
    public internal(set) var lastUpdate: Int
    /// The last raw reading (NaN for unknown): counters and derives rate against it.
    public internal(set) var lastReading: Double = .nan
    /// Rate × seconds gathered for the PDP in progress, and how many of its seconds were unknown.
    var pdpValue: Double = 0
    var pdpUnknownSeconds: Int

    struct Consolidation: Sendable {
        var value: Double = .nan
        var primary: Double = .nan
        var secondary: Double = .nan
        var unknownPDPs: Int32 = 0
    }

    /// Bit `i` set: archive `i` starts a ring of rows of its own; clear: it shares the ring of
    /// archive `i − 1` (the functions of a timescale, while their rows are equal). Settable in
    /// the module, as the rest: SnapshotEncoding.swift restores them.
    var ringStarts: UInt64
    /// The rings, in the order of the archives that start them.
    var rings: [ArchiveRows]
    /// The consolidation in progress of each archive of more than one step per row, in archive
    /// order: one of one step per row writes each PDP as it comes, and has none to keep.
    var consolidations: [Consolidation]

    /// The most archives a database has (`ringStarts`' bits); the standard layout has 16.
    public static let maximumArchives = 64

    /// `archives` holds at most `maximumArchives` definitions; the standard layout's are shared.
    public init(
        step: Int, kind: DataSourceKind, heartbeat: Int, minimum: Double = .nan, maximum: Double = .nan,
        archives: [ArchiveDefinition], start: Int
    ) {
        precondition(archives.count <= RoundRobinDatabase.maximumArchives, "at most 64 archives")
        self.step = step
        self.kind = kind
        self.heartbeat = heartbeat
        self.minimum = minimum
        self.maximum = maximum
        self.archives = archives
        self.lastUpdate = start
        self.pdpUnknownSeconds = start % step
        // Archives of one row size next to each other (the functions of a timescale) start on
        // one ring: see `addPDPs`.
        var ringStarts: UInt64 = 0
        var rings: [ArchiveRows] = []
        for (index, archive) in archives.enumerated() where index == 0 || !RoundRobinDatabase.sameRows(archives[index - 1], archive) {
            ringStarts |= 1 << UInt64(index)
            rings.append(ArchiveRows(count: archive.rows, filledWith: .nan))
        }
        self.ringStarts = ringStarts
        self.rings = rings
        // PDPs of the first row before the start count as unknown, as rrdtool create does.
        self.consolidations = archives.filter { $0.stepsPerRow > 1 }.map { archive in
            var state = Consolidation()
            state.unknownPDPs = Int32(((start - start % step) % (step * archive.stepsPerRow)) / step)
            state.value = RoundRobinDatabase.neutral(archive.function)
            return state
        }
    }

    /// Whether two archives have rows of one size, so that they may share a ring.
    static func sameRows(_ first: ArchiveDefinition, _ second: ArchiveDefinition) -> Bool {
        first.stepsPerRow == second.stepsPerRow && first.rows == second.rows
    }

    /// The ring holding an archive's rows.
    func ring(of archive: Int) -> Int {
        let below = archive + 1 >= 64 ? UInt64.max : (1 << UInt64(archive + 1)) - 1
        return (ringStarts & below).nonzeroBitCount - 1
    }

    /// Whether archives `group` (of one row size, next to each other) share one ring.
    private func shares(_ group: Range<Int>) -> Bool {
        group.count == 1 || (ringStarts >> UInt64(group.lowerBound + 1)) & 1 == 0
    }

    static func neutral(_ function: ConsolidationFunction) -> Double {
        switch function {
        case .average: 0
        case .minimum: .infinity
        case .maximum: -.infinity
        case .last: .nan
        }
    }

    /// Updates with a reading newer than the last update; an older or equal one is ignored.
    mutating func updateIfNewer(time: Int, reading: Double) {
        guard time > lastUpdate else { return }
        try? update(time: time, reading: reading)
    }

    public enum UpdateError: Error, Equatable {
        /// An update not after the last one (rrdtool refuses it too).
        case notAfterLastUpdate(time: Int, last: Int)
    }

    /// Records a raw reading at `time` (NaN for unknown).
    public mutating func update(time: Int, reading: Double) throws(UpdateError) {
        guard time > lastUpdate else { throw .notAfterLastUpdate(time: time, last: lastUpdate) }
        let interval = Double(time - lastUpdate)
        // rate × interval for this update, NaN when unknown.
        var gathered = Double.nan
        if !reading.isNaN && time - lastUpdate <= heartbeat {
            switch kind {
            case .gauge:
                gathered = reading * interval
            case .counter:
                if !lastReading.isNaN {
                    var delta = reading - lastReading
                    if delta < 0 { delta += 4_294_967_296 }
                    if delta < 0 { delta += 18_446_744_069_414_584_320 }
                    gathered = delta
                }
            case .derive:
                if !lastReading.isNaN { gathered = reading - lastReading }
            case .absolute:
                gathered = reading
            }
            let rate = gathered / interval
            if !rate.isNaN && ((!maximum.isNaN && rate > maximum) || (!minimum.isNaN && rate < minimum)) { gathered = .nan }
        }
        lastReading = reading

        let previousStepStart = lastUpdate - lastUpdate % step
        let currentStepStart = time - time % step
        let elapsedSteps = (currentStepStart - previousStepStart) / step
        defer { lastUpdate = time }
        if elapsedSteps == 0 {
            if gathered.isNaN { pdpUnknownSeconds += time - lastUpdate } else { pdpValue = (pdpValue.isNaN ? 0 : pdpValue) + gathered }
            return
        }
        // The PDP in progress ends at the first boundary after the last update; the PDPs wholly
        // inside this update's interval get its rate; what follows the last boundary starts the next.
        let rate = gathered / interval
        let before = Double(previousStepStart + step - lastUpdate)
        let after = Double(time - currentStepStart)
        var unknownBefore = 0.0
        if gathered.isNaN {
            unknownBefore = before
        } else {
            if pdpValue.isNaN { pdpValue = 0 }
            pdpValue += rate * before
        }
        let first: Double =
            Double(step) / 2 < Double(pdpUnknownSeconds)
            ? .nan
            : pdpValue / (Double(step - pdpUnknownSeconds) - unknownBefore)
        if gathered.isNaN {
            pdpUnknownSeconds = Int(after.rounded(.down))
            pdpValue = .nan
        } else {
            pdpUnknownSeconds = 0
            pdpValue = rate * after
        }
        let firstIndex = previousStepStart / step + 1
        addPDPs(first, count: 1, endingAt: firstIndex)
        if elapsedSteps > 1 { addPDPs(rate, count: elapsedSteps - 1, endingAt: firstIndex + elapsedSteps - 1) }
    }

    /// Feeds `count` PDPs of one value, the last being PDP number `lastIndex` (its end time over
    /// the step), into every archive. A row completes when its last PDP's index is a multiple of
    /// its steps per row, so rows align to multiples of their span in absolute time, as in rrdtool.
    ///
    /// Archives of one row size next to each other (the four functions of a timescale) are fed
    /// together, as their rows complete together; while every row they have written is the same
    /// whatever the function (a gauge that never moves, a counter that stays at zero), they
    /// keep one ring, and they part at the first row that differs. The finest timescale's rows are
    /// the PDPs themselves, so its functions always share. Four rings for every timescale made
    /// 11 KB a statistic, however still it was (issue 17).
    private mutating func addPDPs(_ value: Double, count: Int, endingAt lastIndex: Int) {
        var start = 0
        var ring = 0
        var state = 0
        while start < archives.count {
            var end = start + 1
            while end < archives.count && RoundRobinDatabase.sameRows(archives[start], archives[end]) { end += 1 }
            feed(start..<end, ring: ring, state: state, value, count: count, endingAt: lastIndex)
            ring += shares(start..<end) ? 1 : end - start
            if archives[start].stepsPerRow > 1 { state += end - start }
            start = end
        }
    }

    /// `addPDPs` for one group of archives of the same row size, whose first ring is `ring` and
    /// first consolidation `state`.
    private mutating func feed(_ group: Range<Int>, ring: Int, state: Int, _ value: Double, count: Int, endingAt lastIndex: Int) {
        let perRow = archives[group.lowerBound].stepsPerRow
        if perRow == 1 {
            for index in ring..<(ring + (shares(group) ? 1 : group.count)) { rings[index].append(Float(value), times: count) }
            return
        }
        let states = state..<(state + group.count)
        var remaining = count
        var pdpIndex = lastIndex - count  // the index of the PDP before the first one fed
        while remaining > 0 {
            let toRowEnd = perRow - ((pdpIndex % perRow) + perRow) % perRow
            let taken = min(remaining, toRowEnd)
            for (index, archive) in zip(states, group) {
                RoundRobinDatabase.accumulate(&consolidations[index], value, count: taken, function: archives[archive].function)
            }
            pdpIndex += taken
            remaining -= taken
            guard pdpIndex % perRow == 0 else { continue }
            for (index, archive) in zip(states, group) {
                consolidations[index].primary = RoundRobinDatabase.finish(consolidations[index], archives[archive], lastPDP: value)
                consolidations[index].value = RoundRobinDatabase.neutral(archives[archive].function)
                consolidations[index].unknownPDPs = 0
            }
            writeRow(group, ring: ring, states: states)
            // Whole rows of the same value: written at once, however long the gap.
            let wholeRows = remaining / perRow
            if wholeRows > 0 {
                for index in states { consolidations[index].secondary = value }
                for index in ring..<(ring + (shares(group) ? 1 : group.count)) { rings[index].append(Float(value), times: wholeRows) }
                pdpIndex += wholeRows * perRow
                remaining -= wholeRows * perRow
            }
        }
    }

    /// Writes the row each archive of `group` has just completed (its consolidation's `primary`):
    /// once, to the ring they share, while the values are equal as stored; otherwise each to its
    /// own ring, first parting a shared one into copies.
    private mutating func writeRow(_ group: Range<Int>, ring: Int, states: Range<Int>) {
        if group.count > 1 && shares(group) {
            let stored = Float(consolidations[states.lowerBound].primary)
            let same = states.dropFirst().allSatisfy { index in
                let other = Float(consolidations[index].primary)
                return other == stored || (other.isNaN && stored.isNaN)
            }
            if same {
                rings[ring].append(stored, times: 1)
                return
            }
            rings.insert(contentsOf: repeatElement(rings[ring], count: group.count - 1), at: ring + 1)
            for index in group.dropFirst() { ringStarts |= 1 << UInt64(index) }
        }
        for (offset, index) in states.enumerated() { rings[ring + offset].append(Float(consolidations[index].primary), times: 1) }
    }

    private static func accumulate(_ state: inout Consolidation, _ value: Double, count: Int, function: ConsolidationFunction) {
        guard count > 0 else { return }
        if value.isNaN {
            state.unknownPDPs += Int32(count)
            if function == .last { state.value = .nan }
            return
        }
        switch function {
        case .average: state.value = (state.value.isNaN ? 0 : state.value) + value * Double(count)
        case .minimum: state.value = state.value.isNaN ? value : min(state.value, value)
        case .maximum: state.value = state.value.isNaN ? value : max(state.value, value)
        case .last: state.value = value
        }
    }

    private static func finish(_ state: Consolidation, _ archive: ArchiveDefinition, lastPDP: Double) -> Double {
        if Double(state.unknownPDPs) > Double(archive.stepsPerRow) * archive.xff { return .nan }
        switch archive.function {
        case .average: return state.value / Double(archive.stepsPerRow - Int(state.unknownPDPs))
        case .minimum, .maximum: return state.value.isFinite ? state.value : .nan
        case .last: return lastPDP
        }
    }
}
