/// Reading a database's rows: by time, whole archives, series for a function.
extension RoundRobinDatabase {
    /// Bytes of row storage: 4 a row of a plain ring, 8 a run beyond a ring's first otherwise
    /// (what the archives cost in memory, without bookkeeping; see `memoryBytes`).
    public var storageBytes: Int { rings.reduce(0) { $0 + $1.storageBytes } }

    /// Everything the database takes in memory, as malloc allocates it: itself, its rings and
    /// their rows, its consolidations (not the archive definitions, which every database of a
    /// standard layout shares).
    public var memoryBytes: Int {
        var bytes = MemoryLayout<RoundRobinDatabase>.stride
        if rings.capacity > 0 { bytes += HeapAccounting.allocation(32 + rings.capacity * MemoryLayout<ArchiveRows>.stride) }
        if consolidations.capacity > 0 {
            bytes += HeapAccounting.allocation(32 + consolidations.capacity * MemoryLayout<Consolidation>.stride)
        }
        return rings.reduce(bytes) { $0 + $1.heapBytes }
    }

    /// The end time of the newest row of an archive.
    public func newestRowTime(_ archive: Int) -> Int {
        let span = archives[archive].stepsPerRow * step
        return lastUpdate - lastUpdate % span
    }

    /// The row of an archive that ends at `time` (a multiple of its span); NaN outside the archive.
    public func value(_ archive: Int, endingAt time: Int) -> Double {
        let span = archives[archive].stepsPerRow * step
        let (difference, overflow) = newestRowTime(archive).subtractingReportingOverflow(time)
        let back = difference / span
        guard !overflow, time % span == 0, back >= 0, back < archives[archive].rows else { return .nan }
        return Double(rings[ring(of: archive)].value(back: back))
    }

    /// The consolidation in progress of an archive (for rrdtool's cdp_prep); an archive of one
    /// step per row has none: its neutral value, NaN, NaN and no unknown PDP.
    func pendingConsolidation(_ archive: Int) -> (value: Double, primary: Double, secondary: Double, unknownPDPs: Int) {
        guard archives[archive].stepsPerRow > 1 else { return (RoundRobinDatabase.neutral(archives[archive].function), .nan, .nan, 0) }
        let state = consolidations[archives[..<archive].count(where: { $0.stepsPerRow > 1 })]
        return (state.value, state.primary, state.secondary, Int(state.unknownPDPs))
    }

    /// The PDP in progress: rate × seconds gathered and unknown seconds (for rrdtool's ds block).
    var pendingPDP: (value: Double, unknownSeconds: Int) { (pdpValue, pdpUnknownSeconds) }

    /// The rows of one archive, oldest first, with the end time of the first row.
    public func rows(of archive: Int) -> (firstRowEnd: Int, values: [Float]) {
        let rows = archives[archive].rows
        let span = archives[archive].stepsPerRow * step
        return (newestRowTime(archive) - (rows - 1) * span, rings[ring(of: archive)].values)
    }

    /// A time series for `function` from `start` to `end`: the finest archive whose span
    /// reaches back to `start` (xcp-rrdd's and rrdtool fetch's choice), or the coarsest when none
    /// does, optionally no finer than `resolution` seconds. Each value covers (time − step, time];
    /// rows are limited to what the archive holds.
    public func fetch(_ function: ConsolidationFunction, start: Int, end: Int, resolution: Int = 0)
        -> (step: Int, times: [Int], values: [Double])
    {
        let candidates = archives.indices.filter { archives[$0].function == function }
            .sorted { archives[$0].stepsPerRow < archives[$1].stepsPerRow }
        guard !candidates.isEmpty else { return (step, [], []) }
        let chosen =
            candidates.first { index in
                let span = archives[index].stepsPerRow * step
                return span >= resolution && newestRowTime(index) - archives[index].rows * span <= start
            } ?? candidates.last!
        let span = archives[chosen].stepsPerRow * step
        let (firstEnd, values) = rows(of: chosen)
        var times: [Int] = []
        var result: [Double] = []
        // Only the archive's own rows: a far start or end must not turn into millions of empty
        // rows, and is clamped to them before it is rounded (`start` near Int.max overflowed).
        let newest = newestRowTime(chosen)
        let from = min(max(start, firstEnd - span), newest)
        var time = max((from / span + 1) * span, firstEnd)
        let last = min(end, newest)
        while time <= last {
            let index = (time - firstEnd) / span
            times.append(time)
            result.append(index >= 0 && index < values.count ? Double(values[index]) : .nan)
            time += span
        }
        return (span, times, result)
    }
}
