#if canImport(Glibc)
import Glibc
#endif

/// A POSIX extended regular expression (glibc's `regcomp`), compiled once and searched
/// unanchored, as perfmon's `re.search` does.
public final class POSIXRegex: @unchecked Sendable {
    // regexec on a compiled pattern is thread-safe in glibc; the pattern never changes after init.
    private var compiled = regex_t()
    public let pattern: String

    /// A pattern that does not compile, with glibc's explanation.
    public struct CompileError: Error, Sendable, CustomStringConvertible {
        public let pattern: String
        public let reason: String
        public var description: String { "invalid regular expression \"\(pattern)\": \(reason)" }
    }

    public init(_ pattern: String) throws(CompileError) {
        self.pattern = pattern
        let status = regcomp(&compiled, pattern, REG_EXTENDED | REG_NOSUB)
        guard status == 0 else {
            var message = [CChar](repeating: 0, count: 256)
            regerror(status, &compiled, &message, message.count)
            regfree(&compiled)
            let reason = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw CompileError(pattern: pattern, reason: reason)
        }
    }

    deinit { regfree(&compiled) }

    /// Whether the pattern occurs anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        regexec(&compiled, text, 0, nil, 0) == 0
    }
}
