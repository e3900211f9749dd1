import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A POSIX extended regular expression (glibc's `regcomp`), compiled once and searched
/// unanchored, as perfmon's `re.search` does.
public final class POSIXRegex: @unchecked Sendable {
    // regexec on a compiled pattern is thread-safe in glibc (it locks the pattern's automaton
    // itself); the pattern never changes after init. It lives at a fixed address, so that
    // concurrent searches never go through a Swift inout access.
    private let compiled = UnsafeMutablePointer<regex_t>.allocate(capacity: 1)
    public let pattern: String

    /// A pattern that does not compile, with glibc's explanation.
    public struct CompileError: Error, Sendable, CustomStringConvertible {
        public let pattern: String
        public let reason: String
        public var description: String { "invalid regular expression \"\(pattern)\": \(reason)" }
    }

    public init(_ pattern: String) throws(CompileError) {
        self.pattern = pattern
        compiled.initialize(to: regex_t())
        let status = regcomp(compiled, pattern, REG_EXTENDED | REG_NOSUB)
        guard status == 0 else {
            var message = [CChar](repeating: 0, count: 256)
            regerror(status, compiled, &message, message.count)
            // deinit frees the pattern (regfree after a failed regcomp is harmless).
            let reason = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw CompileError(pattern: pattern, reason: reason)
        }
    }

    deinit {
        regfree(compiled)
        compiled.deallocate()
    }

    /// Whether the pattern occurs anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        regexec(compiled, text, 0, nil, 0) == 0
    }

    // MARK: - Shared patterns

    private final class Reference: @unchecked Sendable {
        weak var regex: POSIXRegex?
        init(_ regex: POSIXRegex) { self.regex = regex }
    }

    /// Patterns by text; entries whose pattern died are swept when the table doubles.
    private struct Live {
        var references: [String: Reference] = [:]
        var sweepAt = 1024
    }

    private static let live = Mutex(Live())

    /// The compiled pattern, shared with every other live user of the same text. glibc's
    /// automaton for a pattern takes kilobytes: 10,000 aggregate monitors over ten patterns
    /// took 4.7 KB each when each compiled its own.
    public static func shared(_ pattern: String) throws(CompileError) -> POSIXRegex {
        if let existing = live.withLock({ $0.references[pattern]?.regex }) { return existing }
        let regex = try POSIXRegex(pattern)
        return live.withLock { live in
            if let existing = live.references[pattern]?.regex { return existing }
            if live.references.count >= live.sweepAt {
                live.references = live.references.filter { $0.value.regex != nil }
                live.sweepAt = max(1024, live.references.count * 2)
            }
            live.references[pattern] = Reference(regex)
            return regex
        }
    }
}
