/// Prometheus remote_write's progress, in `GET /v1/status` (`remoteWrite`) and `/metrics`
/// (`resmon_remote_write_*`); absent when remote_write is not configured.
public struct RemoteWriteStatus: Codable, Sendable, Equatable {
    /// Samples the receiver accepted (2xx).
    public var samplesSent: Int
    /// Samples the receiver refused (a 4xx other than 429): logged and dropped, never retried.
    public var samplesFailed: Int
    /// Samples dropped unsent because the queue was full (the oldest go first).
    public var samplesDropped: Int
    /// Samples waiting, those of the request being sent or retried included.
    public var queuedSamples: Int
    /// Requests retried after a 5xx, a 429 or no answer.
    public var retries: Int
    /// Why the last request failed; nil once one succeeds.
    public var lastError: String?
    /// When the receiver last accepted a request (seconds since the epoch).
    public var lastSentAt: Double?

    public init(
        samplesSent: Int = 0, samplesFailed: Int = 0, samplesDropped: Int = 0, queuedSamples: Int = 0, retries: Int = 0,
        lastError: String? = nil, lastSentAt: Double? = nil
    ) {
        self.samplesSent = samplesSent
        self.samplesFailed = samplesFailed
        self.samplesDropped = samplesDropped
        self.queuedSamples = queuedSamples
        self.retries = retries
        self.lastError = lastError
        self.lastSentAt = lastSentAt
    }
}
