import Events
import FoundationEssentials
import History
import Monitoring
import ResmonAPI
import ResmonSystem
import Statistics

/// `/v1/history/…` and xapi's `/rrd_updates`.
struct HistoryRoutes {
    let context: APIContext

    /// The longest span a query's resolution, interval or relative start may name: the span of
    /// the epoch times accepted (InputNumber.epochSeconds).
    static let longestSpan = InputNumber.epochSeconds.upperBound

    /// `start`/`end` as epoch seconds, or negative: seconds before now (InputNumber.time).
    static func time(_ text: String?, name: String, default fallback: Int, now: Int) throws -> Int {
        guard let text else { return fallback }
        return try InputNumber.time(text, field: name, now: now)
    }

    static func function(_ text: String?) throws -> ConsolidationFunction? {
        guard let text else { return nil }
        guard let function = ConsolidationFunction(name: text) else {
            throw APIRouter.Failure(status: 400, code: .badRequest, message: "cf: expected AVERAGE, MIN, MAX or LAST, got \"\(text)\"")
        }
        return function
    }

    /// A parameter given twice (`cf=AVERAGE&cf=MAX`): which one was meant is not for resmond to
    /// guess, so it is a 400 naming it rather than the first silently winning.
    static func refuseRepeated(_ request: HTTPRequest) throws {
        var seen = Set<String>()
        for name in request.queryNames where !seen.insert(name).inserted {
            throw APIRouter.Failure(status: 400, code: .badRequest, message: "\(name): given more than once")
        }
    }

    /// `GET /v1/history/{key}`, or with `dump` `…/{key}/rrdtool.xml`.
    func history(_ request: HTTPRequest, history: HistoryStore, key keyText: String, dump wantsXML: Bool) throws -> HTTPResponse {
        guard let key = StatisticKey(parsing: keyText) else {
            throw APIRouter.Failure(status: 400, code: .invalidKey, message: "\"\(keyText)\" is not a statistic key")
        }
        guard let database = history.database(key.text) else {
            throw APIRouter.Failure(
                status: 404, code: .unknownStatistic, message: "no history for \(key.text) (it is not archived, or has not been sampled yet)")
        }
        if wantsXML {
            // The dump is the whole archive: a parameter would be silently ignored, so it is refused.
            if let (name, _) = request.queryItems.first {
                throw APIRouter.Failure(status: 400, code: .badRequest, message: "\(name): rrdtool.xml takes no query parameters (it dumps the whole archive)")
            }
            return HTTPResponse(status: 200, contentType: "application/xml", body: Array(RRDToolXML.dump(database).utf8))
        }
        try HistoryRoutes.refuseRepeated(request)
        let now = Int(Clock.wall())
        let end = try HistoryRoutes.time(request.query["end"], name: "end", default: now, now: now)
        let start = try HistoryRoutes.time(
            request.query["start"], name: "start", default: max(InputNumber.epochSeconds.lowerBound, end - 120 * history.step), now: now)
        guard start < end else { throw APIRouter.Failure(status: 400, code: .badRequest, message: "start must be before end") }
        let function = try HistoryRoutes.function(request.query["cf"]) ?? .average
        var resolution = 0
        if let text = request.query["resolution"] {
            resolution = try InputNumber.integer(text, field: "resolution", in: 1...HistoryRoutes.longestSpan, expected: "whole seconds")
        }
        let series = database.fetch(function, start: start, end: end, resolution: resolution)
        let unit = context.table.sample(forKey: key.text)?.descriptor.unit ?? ""
        let rows = zip(series.times, series.values).map { HistoryResponse.Row(t: $0, v: $1.isFinite ? $1 : nil) }
        let body = HistoryResponse(
            key: key.text, cf: function.rawValue, step: series.step, start: start, end: end,
            unit: unit, rows: rows)
        return HTTPResponse(status: 200, body: Array(try JSONEncoder().encode(body)))
    }

    /// xapi's `GET /rrd_updates?start=&cf=&interval=&host=true[&json][&vm_uuid=]`.
    func rrdUpdates(_ request: HTTPRequest, history: HistoryStore) throws -> HTTPResponse {
        try HistoryRoutes.refuseRepeated(request)
        guard let startText = request.query["start"] else {
            throw APIRouter.Failure(status: 400, code: .badRequest, message: "start: expected seconds since the epoch (negative: before the last update)")
        }
        // Digits with an optional '-': Int("+5") would take a sign the documentation never offers.
        guard startText.first != "+" else {
            throw APIRouter.Failure(
                status: 400, code: .badRequest,
                message: "start: expected seconds since the epoch, or negative seconds before the last update, got \"\(startText)\"")
        }
        let start = try InputNumber.integer(
            startText, field: "start", in: -HistoryRoutes.longestSpan...InputNumber.epochSeconds.upperBound,
            expected: "seconds since the epoch (negative: before the last update)")
        let function = try HistoryRoutes.function(request.query["cf"])
        var interval = history.step
        if let text = request.query["interval"] {
            interval = try InputNumber.integer(text, field: "interval", in: 1...HistoryRoutes.longestSpan, expected: "whole seconds")
        }
        let includeHost = request.query["host"].map { $0 == "true" || $0 == "1" } ?? false
        // resmon's own keys only when asked: perfmon searches its regexes unanchored over every
        // name, and `cpu[0-9]+` finds `cpu_cpu0_iowait_ratio`, `memory` finds `pressure_memory_…`.
        var native = false
        if let text = request.query["native"] {
            guard ["true", "1", "false", "0"].contains(text) else {
                throw APIRouter.Failure(status: 400, code: .badRequest, message: "native: expected true or false, got \"\(text)\"")
            }
            native = text == "true" || text == "1"
        }
        let onlyVM = request.query["vm_uuid"]
        var columns: [RRDUpdates.Column] = []
        if includeHost { columns += hostColumns(history, native: native) }
        let vmColumns = cgroupColumns(history, native: native).filter { onlyVM == nil || $0.uuid == onlyVM }
        columns += vmColumns
        // "-0" is relative, as every time starting with '-': the last update, not the epoch.
        let relative = startText.hasPrefix("-")
        guard let table = RRDUpdates.table(columns, start: start, relative: relative, interval: interval, function: function) else {
            throw APIRouter.Failure(status: 404, code: .notFound, message: "no archive matches (ask host=true, or wait for the first samples)")
        }
        let (notes, summary) = HistoryRoutes.missingSources(vmColumns, history: history)
        // Per VM in the XML as comments, which xapi's parsers skip; a bounded summary in a header
        // for every form (one note per VM could outgrow the 64 KiB header line Python's
        // http.client, and so perfmon, accepts).
        let headers = summary.map { [("X-Resmon-Missing", $0)] } ?? []
        let prefersJSON =
            request.query["json"] != nil
            || (request.headers["accept"].map { $0.contains("application/json") && !$0.contains("xml") } ?? false)
        if prefersJSON {
            return HTTPResponse(status: 200, body: Array(RRDUpdates.json(table).utf8), headers: headers)
        }
        return HTTPResponse(
            status: 200, contentType: "application/xml", body: Array(RRDUpdates.xml(table, notes: notes).utf8),
            headers: headers)
    }

    /// What perfmon's VM variables look for and a VM here lacks: said in the answer, because
    /// perfmon reads a missing data source as 0 and would otherwise see an idle VM.
    static func missingSources(_ columns: [RRDUpdates.Column], history: HistoryStore) -> (notes: [String], summary: String?) {
        var names: [String: Set<String>] = [:]
        var paths: [String: String] = [:]
        for (key, _) in history.databases(where: { $0.hasPrefix("cgroup:") }) {
            guard let parsed = StatisticKey(parsing: key), XapiDataSources.isVM(parsed) else { continue }
            paths[HistoryRoutes.uuid(for: parsed.resource)] = parsed.resource
        }
        for column in columns { names[column.uuid, default: []].insert(column.name) }
        var notes: [String] = []
        var lacking: [String: Int] = [:]
        for (uuid, present) in names.sorted(by: { $0.key < $1.key }) {
            var missing: [String] = []
            if !present.contains("cpu0") { missing.append("cpuN (no CPU usage archived for it yet)") }
            if !present.contains("memory") { missing.append("memory (no memory usage archived for it yet)") }
            if !present.contains("vif_0_rx") {
                missing.append("vif_0_rx/tx (its processes share the host's network namespace, whose traffic is the host's pif_*)")
            }
            if !present.contains("vbd_all_read") { missing.append("vbd_all_read/write (no block I/O archived for it yet)") }
            notes.append("vm \(uuid) (cgroup \(paths[uuid] ?? "?")) has no " + missing.joined(separator: ", no "))
            for item in missing { lacking[item, default: 0] += 1 }
        }
        guard !notes.isEmpty else { return ([], nil) }
        let summary = lacking.sorted { $0.key < $1.key }.map { "\($0.value) of \(notes.count) vms have no \($0.key)" }
            .joined(separator: "; ")
        return (notes, summary + "; the XML names each vm in comments")
    }

    /// The host's data sources under xapi's names, and with `native` resmon's own (the key with
    /// `:` as `_`).
    private func hostColumns(_ history: HistoryStore, native: Bool) -> [RRDUpdates.Column] {
        let uuid = context.hostUUID
        let all = history.databases { !$0.hasPrefix("process:") && !$0.hasPrefix("cgroup:") }
        var columns: [RRDUpdates.Column] = []
        for (key, database) in all {
            guard let parsed = StatisticKey(parsing: key) else { continue }
            if native {
                columns.append(
                    .init(
                        objectType: "host", uuid: uuid, name: key.split(separator: ":", omittingEmptySubsequences: false).joined(separator: "_"),
                        database: database))
            }
            for xapi in XapiDataSources.names(for: parsed) {
                columns.append(.init(objectType: "host", uuid: uuid, name: xapi.name, database: database, scale: xapi.scale))
            }
        }
        return columns
    }

    /// cgroups as xapi's VMs: a uuid derived from the path, and VM data-source names.
    private func cgroupColumns(_ history: HistoryStore, native: Bool) -> [RRDUpdates.Column] {
        var columns: [RRDUpdates.Column] = []
        for (key, database) in history.databases(where: { $0.hasPrefix("cgroup:") }) {
            guard let parsed = StatisticKey(parsing: key), XapiDataSources.isVM(parsed) else { continue }
            let uuid = HistoryRoutes.uuid(for: parsed.resource)
            if native { columns.append(.init(objectType: "vm", uuid: uuid, name: parsed.statistic, database: database)) }
            for xapi in XapiDataSources.names(for: parsed) {
                columns.append(.init(objectType: "vm", uuid: uuid, name: xapi.name, database: database, scale: xapi.scale))
            }
        }
        return columns
    }

    /// A stable UUID-shaped name for a text (two FNV-1a hashes), version nibble 8 (custom).
    static func uuid(for text: String) -> String {
        func fnv(_ seed: UInt64) -> UInt64 {
            var hash = seed
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash &*= 0x0000_0100_0000_01b3
            }
            return hash
        }
        let high = fnv(0xcbf2_9ce4_8422_2325), low = fnv(0x8422_2325_cbf2_9ce4)
        var bytes = (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) } + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
        bytes[6] = (bytes[6] & 0x0f) | 0x80
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        return UUIDText.format(bytes: bytes)
    }

}

extension HistoryRoutes {
    /// `POST /v1/monitors/test`: replays the archived history of the spec's target through a
    /// fresh engine and answers what the monitor would have logged.
    func backtest(_ request: HTTPRequest, history: HistoryStore) throws -> HTTPResponse {
        let requester = APIRouter.requester(request, token: context.writeToken)
        let body: BacktestRequest
        try APIRouter.requireStrictJSON(request)
        do {
            body = try JSONDecoder().decode(BacktestRequest.self, from: Data(request.body))
        } catch let error as MonitorSpec.UnknownField {
            throw APIRouter.Failure(status: 400, code: .badRequest, message: error.description)
        } catch {
            throw APIRouter.Failure(
                status: 400, code: .badRequest, message: "expected {\"spec\": MONITOR SPEC, \"since\": \"-6h\", \"until\": …, \"cf\": \"AVERAGE\"}")
        }
        let now = EventFilter.now()
        func time(_ text: String?, _ name: String, _ fallback: Double) throws -> Int {
            guard let text else { return try InputNumber.time(fallback, field: name, text: "now") }
            guard let value = EventFilter.time(text, now: now) else {
                throw APIRouter.Failure(
                    status: 400, code: .badRequest, message: "\(name): expected seconds since the epoch, RFC 3339 or relative like -6h, got \"\(text)\"")
            }
            return try InputNumber.time(value, field: name, text: text)
        }
        let end = try time(body.until, "until", now)
        let start = try time(body.since, "since", now - 6 * 3600)
        guard start < end else { throw APIRouter.Failure(status: 400, code: .badRequest, message: "since must be before until") }
        // By default the function that cannot miss a raise (MonitorEngine.backtestFunction).
        let function = try HistoryRoutes.function(body.cf) ?? ConsolidationFunction(name: MonitorEngine.backtestFunction(for: body.spec)) ?? .average
        // The statistics to replay: the key, or an aggregate's members as they are now.
        var descriptors: [StatisticDescriptor] = []
        switch body.spec.target {
        case .key(let text):
            guard let key = StatisticKey(parsing: text) else {
                throw APIRouter.Failure(status: 400, code: .invalidKey, message: "target: \"\(text)\" is not a statistic key")
            }
            guard let sample = context.table.sample(forKey: key.text) else {
                throw APIRouter.Failure(status: 404, code: .unknownStatistic, message: "no statistic \(key.text)")
            }
            descriptors = [sample.descriptor]
        case .selection(let selection):
            let selector: Selector
            do {
                selector = try Selector(match: selection.select, labels: selection.where ?? [:], holder: .request(requester))
            } catch {
                if error.quota { throw APIRouter.Failure(status: 429, code: .quota, message: "target: \(error.message)") }
                if error.busy { throw APIRouter.Failure(status: 503, code: .busy, message: "target: \(error.message)") }
                throw APIRouter.Failure(status: 400, code: .badRequest, message: "target: \(error.message)")
            }
            descriptors = context.table.samples(selectedBy: selector).map(\.descriptor)
        }
        // Every archive's rows where it is the finest one that has them, all at the finest row
        // size they share; at most ~1,000,000 readings in all (finer tiers are left out past that).
        let databases = descriptors.compactMap { descriptor in history.database(descriptor.key.text).map { (descriptor, $0) } }
        let budget = max(1, (end - start) * max(1, databases.count) / 1_000_000)
        let step = databases.map { HistoryRoutes.finestRow($0.1, function, start: start, end: end, atLeast: budget) }.max() ?? history.step
        var series: [BacktestSeries] = []
        var archives = Set<Int>()
        for (descriptor, database) in databases {
            let stitched = HistoryRoutes.stitch(database, function, start: start, end: end, row: step)
            archives.formUnion(stitched.archives)
            series.append(BacktestSeries(descriptor: descriptor, times: stitched.times, values: stitched.values))
        }
        guard series.contains(where: { !$0.times.isEmpty }) else {
            throw APIRouter.Failure(
                status: 404, code: .unknownStatistic, message: "no archived history for \(body.spec.target.description) between \(start) and \(end)")
        }
        let replay: BacktestReplay
        do {
            replay = try MonitorEngine.backtest(
                body.spec, series: series, step: step, monitorStep: Double(history.step), requester: requester)
        } catch {
            throw MonitorRoutes.failure(error)
        }
        let plan = replay.plan
        let response = BacktestResponse(
            start: start, end: end, step: step, statistics: series.map(\.descriptor.key.text),
            readings: Set(series.flatMap(\.times)).count, events: replay.events, cf: function.rawValue,
            archives: archives.sorted(by: >),
            monitorRate: plan.monitorRate, replayRate: plan.replayRate, samples: plan.samples,
            cancelSamples: plan.cancelSamples)
        return HTTPResponse(status: 200, body: Array(try JSONEncoder().encode(response)))
    }
}

extension HistoryRoutes {
    /// The finest row size among the archives of `function` that hold rows between `start` and
    /// `end`, no finer than `atLeast` seconds (the coarsest when none is that coarse).
    static func finestRow(
        _ database: RoundRobinDatabase, _ function: ConsolidationFunction, start: Int, end: Int,
        atLeast: Int
    ) -> Int {
        let spans = database.archives.indices.filter { database.archives[$0].function == function }.compactMap { index -> Int? in
            let span = database.archives[index].stepsPerRow * database.step
            let oldest = database.newestRowTime(index) - (database.archives[index].rows - 1) * span
            return span >= atLeast && database.newestRowTime(index) > start && oldest <= end ? span : nil
        }
        // None fine enough for the budget: the coarsest (a replay too long is then refused by name).
        let coarsest = database.archives.filter { $0.function == function }.map { $0.stepsPerRow * database.step }.max()
        return spans.min() ?? coarsest ?? database.step
    }

    /// A backtest's rows: each archive of `function` (no finer than `row`) where it is the
    /// finest that has them — the finest archive for the recent past, coarser ones further
    /// back — so a 6 h replay of hourly rows does not leave out the hour not yet consolidated.
    /// Where two meet, the coarser row that straddles the boundary is kept and the finer rows
    /// it covers are not, so no instant is lost (a MAX row still holds a spike at the seam).
    /// Each row becomes readings `row` seconds apart holding its value, so the replay is even.
    /// `archives`: the row sizes used.
    static func stitch(
        _ database: RoundRobinDatabase, _ function: ConsolidationFunction, start: Int, end: Int,
        row: Int
    ) -> (times: [Int], values: [Double], archives: [Int]) {
        let indexes = database.archives.indices
            .filter { database.archives[$0].function == function && database.archives[$0].stepsPerRow * database.step >= row }
            .sorted { database.archives[$0].stepsPerRow < database.archives[$1].stepsPerRow }
        var segments: [(span: Int, times: [Int], values: [Double])] = []  // finest (newest) first
        var covered = Int.max  // the finer segments hold what comes after this instant
        for index in indexes {
            let span = database.archives[index].stepsPerRow * database.step
            let (firstEnd, values) = database.rows(of: index)
            // Rows that begin before what finer archives hold: the one straddling it included.
            let last = min(end, database.newestRowTime(index), covered == .max ? .max : covered + span - 1)
            var time = max((start / span + 1) * span, firstEnd)
            var segment: (span: Int, times: [Int], values: [Double]) = (span, [], [])
            while time <= last {
                let position = (time - firstEnd) / span
                let value = position >= 0 && position < values.count ? Double(values[position]) : .nan
                if !(segment.times.isEmpty && value.isNaN) {  // unknown before the first known row: leave it to coarser archives
                    segment.times.append(time)
                    segment.values.append(value)
                }
                time += span
            }
            guard let first = segment.times.first else { continue }
            segments.append(segment)
            covered = first - span
        }
        var times: [Int] = []
        var values: [Double] = []
        var through = Int.min  // the end of the last row taken
        for segment in segments.reversed() {
            let count = max(1, segment.span / row)
            for (time, value) in zip(segment.times, segment.values) where time > through {
                for part in (0..<count).reversed() where time - part * row > through {
                    times.append(time - part * row)
                    values.append(value)
                }
                through = time
            }
        }
        return (times, values, segments.map(\.span).reversed())
    }
}
