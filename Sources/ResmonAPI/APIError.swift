/// A stable, machine-readable error code in `{"error": {"code", "message"}}`.
///
/// The list is part of the API (docs/API.md); codes are added, never renamed.
public struct APIErrorCode: Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    private init(_ rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }

    /// A parameter or body that is not valid. HTTP 400.
    public static let badRequest = APIErrorCode("bad_request")
    /// A regular expression that does not compile. HTTP 400.
    public static let invalidRegex = APIErrorCode("invalid_regex")
    /// A statistic key that is not `subsystem:resource:statistic`. HTTP 400.
    public static let invalidKey = APIErrorCode("invalid_key")
    /// No such path. HTTP 404.
    public static let notFound = APIErrorCode("not_found")
    /// No statistic has that key (now). HTTP 404.
    public static let unknownStatistic = APIErrorCode("unknown_statistic")
    /// No monitor has that id. HTTP 404.
    public static let unknownMonitor = APIErrorCode("unknown_monitor")
    /// The path exists but not with that method. HTTP 405.
    public static let methodNotAllowed = APIErrorCode("method_not_allowed")
    /// The caller may not do this. HTTP 403.
    public static let forbidden = APIErrorCode("forbidden")
    /// The request conflicts with the current state. HTTP 409.
    public static let conflict = APIErrorCode("conflict")
    /// The caller (a uid other than root) is at one of its quotas: pushed statistics, monitors
    /// (its templates' instances included); the message names the limit. HTTP 429.
    public static let quota = APIErrorCode("quota")
    /// The body is larger than the server accepts. HTTP 413.
    public static let payloadTooLarge = APIErrorCode("payload_too_large")
    /// The request line and headers are larger than a connection's memory leaves room for
    /// (written by the HTTP shim, which answers it before any route). HTTP 431.
    public static let requestTooLarge = APIErrorCode("request_too_large")
    /// resmond is over its self-limits and refuses new work. HTTP 503.
    public static let busy = APIErrorCode("busy")
    /// The state database cannot be written (a full disk, an I/O error): nothing was changed;
    /// retry when it can. `/v1/status` shows the condition (`storageError`). HTTP 507.
    public static let storage = APIErrorCode("storage")
    /// A fault inside resmond. HTTP 500.
    public static let internalError = APIErrorCode("internal")
}

/// The body of every error response.
public struct ErrorResponse: Codable, Sendable, Error {
    public struct Detail: Codable, Sendable {
        public var code: APIErrorCode
        public var message: String
    }

    public var error: Detail

    public init(code: APIErrorCode, message: String) {
        self.error = Detail(code: code, message: message)
    }
}
