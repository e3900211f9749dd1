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
