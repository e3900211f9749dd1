import CCurlShim
#if canImport(Glibc)
import Glibc
#endif

/// The one HTTP client: a request through libcurl (loaded with dlopen on first use, so a
/// resmond that never sends maps none of it), over TCP or a Unix socket, with a timeout and a
/// bound on the answer. The client library, the sinks, scrape plug-ins and the bench use it.
public enum HTTPClient {
    public struct Response: Sendable {
        public let status: Int
        public let body: [UInt8]
    }

    /// Nothing answered: libcurl's reason (refused, timed out, too large, libcurl missing).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    /// Sends one request and returns the answer, whatever its status.
    /// - Parameters:
    ///   - unixSocket: the socket to connect to instead of the URL's host and port.
    ///   - headers: `Name: value` lines.
    ///   - maximumBytes: a longer answer is a failure.
    public static func fetch(_ url: String, method: String = "GET", body: [UInt8]? = nil, headers: [String] = [],
                             unixSocket: String? = nil, timeoutMilliseconds: Int, maximumBytes: Int) throws(Failure) -> Response {
        var status = 0
        var answer: UnsafeMutablePointer<CChar>?
        var length = 0
        var error = [CChar](repeating: 0, count: 256)
        let result: Int32 = headers.joined(separator: "\n").withCString { headerText in
            guard let body else {
                return rs_http_fetch(unixSocket, url, method, nil, 0, headers.isEmpty ? nil : headerText, timeoutMilliseconds,
                                     maximumBytes, &status, &answer, &length, &error)
            }
            // A trailing NUL keeps the pointer valid for an empty body; it is not sent.
            let terminated = body.map { CChar(bitPattern: $0) } + [0]
            return terminated.withUnsafeBufferPointer { chars in
                rs_http_fetch(unixSocket, url, method, chars.baseAddress, body.count, headers.isEmpty ? nil : headerText,
                              timeoutMilliseconds, maximumBytes, &status, &answer, &length, &error)
            }
        }
        defer { free(answer) }
        guard result == 0 else {
            throw Failure(description: error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        }
        let bytes = answer.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []
        return Response(status: status, body: bytes)
    }
}

extension HTTPClient {
    /// How a streamed GET ended.
    public struct StreamOutcome: Sendable {
        /// The HTTP status (0 when none arrived).
        public let status: Int
        /// Why the transfer ended other than by the server ending the body (refused, idle too
        /// long, stopped by `onChunk`); nil when the server ended it.
        public let failure: String?
    }

    /// A GET over a Unix socket whose body is handed to `onChunk` as it arrives (server-sent
    /// events); `onChunk` returns false to stop. libcurl calls back through a C function pointer
    /// with a context pointer, so the bridge (`Unmanaged`) stays here with the other libcurl calls.
    /// - Parameters:
    ///   - connectTimeoutMilliseconds: bounds connecting only.
    ///   - idleMilliseconds: when > 0, ends the transfer after that long without a byte.
    public static func stream(_ url: String, unixSocket: String, connectTimeoutMilliseconds: Int, idleMilliseconds: Int,
                              onChunk: ([UInt8]) -> Bool) -> StreamOutcome {
        withoutActuallyEscaping(onChunk) { handler in
            let receiver = ChunkReceiver(handler)
            var status = 0
            var error = [CChar](repeating: 0, count: 256)
            let result = withExtendedLifetime(receiver) {
                rs_http_stream(unixSocket, url, nil, connectTimeoutMilliseconds, idleMilliseconds, { data, length, context in
                    guard let context else { return 0 }
                    let receiver = Unmanaged<ChunkReceiver>.fromOpaque(context).takeUnretainedValue()
                    let bytes = data.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []
                    return receiver.onChunk(bytes) ? 1 : 0
                }, Unmanaged.passUnretained(receiver).toOpaque(), &status, &error)
            }
            let failure = result == 0 ? nil : error.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            return StreamOutcome(status: status, failure: failure)
        }
    }
}

/// Carries the chunk handler through libcurl's context pointer.
private final class ChunkReceiver {
    let onChunk: ([UInt8]) -> Bool
    init(_ onChunk: @escaping ([UInt8]) -> Bool) { self.onChunk = onChunk }
}
