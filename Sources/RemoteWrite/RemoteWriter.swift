import Dispatch
import HTTPClient
import ResmonAPI
import ResmonSystem
import Statistics
import Synchronization

/// What `remoteWrite` in resmond.json configures (docs/CONFIG.md).
public struct RemoteWriteSettings: Sendable, Equatable {
    /// The receiver's write endpoint (`http://HOST:9090/api/v1/write` for Prometheus).
    public var url: String
    /// Seconds between requests while fewer than `batchSamples` wait.
    public var intervalSeconds = 5.0
    /// The most samples one request carries.
    public var batchSamples = 2000
    /// The most samples waiting (the request being sent included); past it the oldest are dropped.
    public var queueSamples = 100_000
    public var timeoutSeconds = 10.0
    /// The longest wait between retries (they start at half a second and double).
    public var maxBackoffSeconds = 30.0
    /// Only statistics whose key this regular expression finds are sent; nil: all.
    public var match: String?
    /// Labels added to every series (a series' own label of the same name wins).
    public var labels: [String: String] = [:]
    /// Headers sent with every request (`Authorization` from `tokenFile` among them).
    public var headers: [String: String] = [:]

    public init(url: String) { self.url = url }
}

/// Prometheus remote_write (the 1.0 specification): the sampling thread copies each cycle's new
/// readings into a bounded queue (`capture`, no encoding, no I/O), and the thread
/// `resmond.remote-write` lays out the series, batches, encodes (protobuf, snappy), posts with
/// HTTPClient and retries with back-off. A receiver that is away costs only the queue: the
/// samples taken meanwhile are sent when it is back, in order, the oldest dropped past
/// `queueSamples`.
public final class RemoteWriter: Sendable {
    private struct Capture {
        var layout: SeriesLayout?
        /// The last reading sent of each series of `layout` (milliseconds): a reading not newer
        /// (its subsystem not sampled this cycle) is not sent again.
        var lastSent: [Int64] = []
        var values: [Double] = [], raws: [Double] = [], times: [Double] = [], generations: [UInt32] = []
    }

    private struct Progress {
        var queue = SampleQueue()
        var sent = 0, failed = 0, retries = 0
        var lastError: String?
        var lastSentAt: Double?
        /// The table's structure changed: the sender lays the series out again.
        var layoutWanted = true
    }

    private let table: SampleTable
    private let settings: Lock<RemoteWriteSettings>
    private let log: @Sendable (String) -> Void
    private let sampling = Lock(Capture())
    private let progress = Lock(Progress())
    private let wake = DispatchSemaphore(value: 0)
    private let stopping = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    public init(table: SampleTable, settings: RemoteWriteSettings, log: @escaping @Sendable (String) -> Void) {
        self.table = table
        self.settings = Lock(settings)
        self.log = log
    }

    public func start() {
        DispatchQueue(label: "resmond.remote-write", qos: .utility).async { [self] in
            run()
            finished.signal()
        }
    }

    /// Ends the thread after the request in progress (bounded by `timeoutSeconds`) or at
    /// `deadline`; what is queued is not sent.
    public func stop(deadline: Double) {
        stopping.store(true, ordering: .releasing)
        wake.signal()
        let seconds = max(0, deadline - Clock.monotonic())
        _ = finished.wait(timeout: .now() + .nanoseconds(Int(seconds * 1e9)))
    }

    /// Applies a reloaded configuration; the queue is kept.
    public func update(_ new: RemoteWriteSettings) {
        let old = settings.withLock { settings in
            defer { settings = new }
            return settings
        }
        if old.match != new.match || old.labels != new.labels { progress.withLock { $0.layoutWanted = true } }
        wake.signal()
    }

    public func status() -> RemoteWriteStatus {
        progress.withLock {
            RemoteWriteStatus(
                samplesSent: $0.sent, samplesFailed: $0.failed, samplesDropped: $0.queue.dropped,
                queuedSamples: $0.queue.count + $0.queue.inFlight, retries: $0.retries, lastError: $0.lastError,
                lastSentAt: $0.lastSentAt)
        }
    }

    /// On the sampling thread, after a cycle's collection: queues every series' reading newer
    /// than the last one queued. Copies the table's columns and appends; the rest is the
    /// sender's.
    public func capture() {
        let version = table.structureVersion
        let (limit, batch) = settings.withLock { ($0.queueSamples, $0.batchSamples) }
        let chunk: SampleChunk? = sampling.withLock { capture in
            guard let layout = capture.layout else { return nil }
            table.copyColumns(values: &capture.values, raws: &capture.raws, times: &capture.times, generations: &capture.generations)
            var chunk = SampleChunk(layout: layout)
            for index in 0..<layout.count {
                let slot = Int(layout.slots[index])
                guard slot < capture.generations.count, capture.generations[slot] == layout.generations[index] else { continue }
                let time = capture.times[slot]
                guard time.isFinite else { continue }
                let milliseconds = Int64((time * 1000).rounded())
                guard milliseconds > capture.lastSent[index] else { continue }
                capture.lastSent[index] = milliseconds
                chunk.series.append(Int32(index))
                chunk.values.append(capture.raws[slot])
                chunk.milliseconds.append(milliseconds)
            }
            return chunk
        }
        let signal = progress.withLock { progress in
            if let chunk { progress.queue.append(chunk, limit: limit) }
            if chunk?.layout.version != version { progress.layoutWanted = true }
            return progress.layoutWanted || progress.queue.count >= batch
        }
        if signal { wake.signal() }
    }

    // MARK: - The sender thread

    private enum Outcome {
        case sent
        case retry(String)
        case refused(String)
    }

    private func run() {
        var pending: (body: [UInt8], samples: Int)?
        var backoff = 0.0
        var nextAttempt = 0.0
        var lastRequest = Clock.monotonic()
        var failing = false
        var lastRefusalLog = -Double.infinity
        var cache = LayoutCache()
        while !stopping.load(ordering: .acquiring) {
            if progress.withLock({ $0.layoutWanted }) { layOut(&cache) }
            let settings = self.settings.withLock { $0 }
            let now = Clock.monotonic()
            if pending == nil {
                let taken: [SampleChunk] = progress.withLock { progress in
                    let due = progress.queue.count >= settings.batchSamples || now - lastRequest >= settings.intervalSeconds
                    guard due, progress.queue.count > 0 else { return [] }
                    let chunks = progress.queue.take(settings.batchSamples)
                    progress.queue.inFlight = chunks.reduce(0) { $0 + $1.count }
                    return chunks
                }
                if !taken.isEmpty { pending = encode(taken) }
            }
            if let batch = pending, now >= nextAttempt {
                lastRequest = now
                switch send(batch.body, settings) {
                case .sent:
                    if failing { log("remote_write: \(settings.url) accepts samples again") }
                    failing = false
                    backoff = 0
                    progress.withLock {
                        $0.sent += batch.samples
                        $0.queue.inFlight = 0
                        $0.lastError = nil
                        $0.lastSentAt = Clock.wall()
                    }
                    pending = nil
                case .retry(let reason):
                    if !failing { log("remote_write: \(settings.url): \(reason); retrying with back-off, samples wait in the queue") }
                    failing = true
                    backoff = backoff == 0 ? 0.5 : min(backoff * 2, settings.maxBackoffSeconds)
                    nextAttempt = Clock.monotonic() + backoff
                    progress.withLock {
                        $0.retries += 1
                        $0.lastError = reason
                    }
                case .refused(let reason):
                    // The receiver will refuse these again: resending them would hold up the rest.
                    if now - lastRefusalLog >= 60 {
                        log("remote_write: \(settings.url) refused \(batch.samples) samples (\(reason)); dropped")
                        lastRefusalLog = now
                    }
                    progress.withLock {
                        $0.failed += batch.samples
                        $0.queue.inFlight = 0
                        $0.lastError = reason
                    }
                    pending = nil
                }
                continue
            }
            let wait = pending != nil ? nextAttempt - now : settings.intervalSeconds - (now - lastRequest)
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(min(max(wait, 0.01), 60) * 1e9)))
        }
    }

    private func encode(_ chunks: [SampleChunk]) -> (body: [UInt8], samples: Int)? {
        let samples = chunks.reduce(0) { $0 + $1.count }
        do {
            return (try Snappy.compress(RemoteWriteEncoding.writeRequest(chunks)), samples)
        } catch {
            log("remote_write: \(error); \(samples) samples dropped")
            progress.withLock {
                $0.failed += samples
                $0.queue.inFlight = 0
                $0.lastError = error.description
            }
            return nil
        }
    }

    private func send(_ body: [UInt8], _ settings: RemoteWriteSettings) -> Outcome {
        var headers = [
            "Content-Encoding: snappy", "Content-Type: application/x-protobuf", "X-Prometheus-Remote-Write-Version: 0.1.0",
            "User-Agent: resmond"
        ]
        for (name, value) in settings.headers.sorted(by: { $0.key < $1.key }) { headers.append(name + ": " + value) }
        let response: HTTPClient.Response
        let timeout = Int(settings.timeoutSeconds * 1000)
        // A plain-HTTP receiver through resmond's own client: libcurl and its TLS libraries
        // cost 8 MB of RSS; https goes through libcurl.
        let outcome =
            HTTPClient.postPlain(settings.url, body: body, headers: headers, timeoutMilliseconds: timeout, maximumBytes: 64 << 10)
            ?? Result { () throws(HTTPClient.Failure) in
                try HTTPClient.fetch(settings.url, method: "POST", body: body, headers: headers, timeoutMilliseconds: timeout, maximumBytes: 64 << 10)
            }
        switch outcome {
        case .success(let answer): response = answer
        case .failure(let failure): return .retry(failure.description)
        }
        if (200..<300).contains(response.status) { return .sent }
        let answer = String(decoding: response.body.prefix(200), as: UTF8.self).filter { !$0.isNewline }
        let reason = "HTTP \(response.status)" + (answer.isEmpty ? "" : ": " + answer)
        return response.status == 429 || response.status >= 500 ? .retry(reason) : .refused(reason)
    }

    /// What the last layout worked out per slot, so that the next one (a process came or went,
    /// which changes the table's structure every few seconds on a busy host) works out only
    /// the statistics that are new: whether `match` chose it, and its labels encoded.
    private struct LayoutCache {
        struct Entry {
            var generation: UInt32
            var labels: [String: String]
            /// nil: `match` did not choose it.
            var encoded: [UInt8]?
        }

        var entries: [Entry?] = []
        var match: String?
        var extra: [String: String] = [:]
    }

    /// Lays out the series to send from the table as it is now (on the sender thread: a
    /// regular expression per statistic and the labels' encoding stay off the sampler), keeping
    /// each surviving series' last sent reading.
    private func layOut(_ cache: inout LayoutCache) {
        progress.withLock { $0.layoutWanted = false }
        let (match, extra) = settings.withLock { ($0.match, $0.labels) }
        if cache.match != match || cache.extra != extra { cache = LayoutCache(match: match, extra: extra) }
        var regex: BoundedRegex?
        if let match {
            do {
                regex = try BoundedRegex(match, holder: .root)
            } catch {
                log("remote_write: match: \(error); nothing is sent")
                sampling.withLock { $0 = Capture() }
                return
            }
        }
        let version = table.structureVersion
        var slots: [Int32] = [], generations: [UInt32] = [], labels: [[UInt8]] = []
        for (handle, descriptor) in table.handles() {
            let slot = Int(handle.index)
            if slot >= cache.entries.count { cache.entries += repeatElement(nil, count: slot + 1 - cache.entries.count) }
            let encoded: [UInt8]?
            if let entry = cache.entries[slot], entry.generation == handle.generation, entry.labels == descriptor.labels {
                encoded = entry.encoded
            } else {
                encoded = regex.map { $0.matches(descriptor.key.text) } == false ? nil : RemoteWriter.labels(descriptor, extra: extra)
                cache.entries[slot] = LayoutCache.Entry(generation: handle.generation, labels: descriptor.labels, encoded: encoded)
            }
            guard let encoded else { continue }
            slots.append(handle.index)
            generations.append(handle.generation)
            labels.append(encoded)
        }
        let layout = SeriesLayout(version: version, slots: slots, generations: generations, labels: labels)
        sampling.withLock { capture in
            // Each slot's last sent reading under the old layout, for the same statistic in the new one.
            var previous = [(generation: UInt32, sent: Int64)](repeating: (0, .min), count: cache.entries.count)
            if let old = capture.layout {
                for index in 0..<old.count where Int(old.slots[index]) < previous.count {
                    previous[Int(old.slots[index])] = (old.generations[index], capture.lastSent[index])
                }
            }
            capture.lastSent = (0..<layout.count).map { index in
                let known = previous[Int(layout.slots[index])]
                return known.generation == layout.generations[index] ? known.sent : .min
            }
            capture.layout = layout
        }
    }

    /// A series' labels encoded: `__name__` and those `/metrics` gives it, then the extra ones
    /// it does not have.
    private static func labels(_ descriptor: StatisticDescriptor, extra: [String: String]) -> [UInt8] {
        let series = PrometheusNames.series(of: descriptor, host: extra["host"])
        var all = [(name: "__name__", value: series.name)] + series.labels
        for (name, value) in extra.sorted(by: { $0.key < $1.key }) where !all.contains(where: { $0.name == name }) {
            all.append((name, value))
        }
        return RemoteWriteEncoding.labels(all)
    }
}
