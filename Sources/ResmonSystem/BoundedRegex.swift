import CRE2
import Synchronization

/// A regular expression in RE2's syntax, compiled once and searched unanchored, as perfmon's
/// `re.search` does, with bounds on what any pattern can cost: at most `maximumPatternBytes`
/// long, compiled within `memoryBudget` bytes, and searched in time linear in the text.
///
/// Patterns come from readers (`match=`, `~` in event filters, monitor selectors, perfmon's
/// `rrd_regex`): glibc's `regcomp`/`regexec`, used before, has no bounds, and one backreference
/// pattern took 59 s of CPU and `a{1,32767}` 550 MB. RE2 has no backreferences or lookaround and
/// bounds a repetition count at 1000 (docs/API.md, "Regular expressions").
/// Sendable by hand: the compiled RE2 is never changed after `init`, and RE2's const matching
/// is safe from any number of threads at once.
public final class BoundedRegex: @unchecked Sendable {
    // An RE2 is immutable after compiling and RE2 searches it from many threads at once (its
    // DFA caches take their own locks).
    private let compiled: OpaquePointer
    public let pattern: String

    /// The longest pattern accepted, in UTF-8 bytes.
    public static let maximumPatternBytes = 1024
    /// What one pattern's compiled program and its DFA caches may take (RE2's `max_mem`). A
    /// pattern whose program alone exceeds it does not compile; a search whose DFA cache fills
    /// it continues in RE2's NFA, still linear.
    public static let memoryBudget: Int64 = 1 << 20
    /// The most patterns one request may bring (an event filter's `~` terms, a statistics
    /// query's `match` and `where` patterns): each is linear, but their number multiplies the
    /// work, and 150 costly ones over 10,000 events took 100 s (issue 22, re-attack item 3).
    public static let maximumPatternsPerRequest = 16
    /// The most bytes all of one request's patterns may take together.
    public static let maximumPatternBytesPerRequest = 4096

    /// Why a request's patterns, `count` of them and `bytes` together, are too many (nil when
    /// they are within the per-request bounds); the caller names where they came from.
    public static func perRequestExcess(count: Int, bytes: Int) -> String? {
        if count > maximumPatternsPerRequest {
            return "\(count) regular expressions in one request; at most \(maximumPatternsPerRequest)"
        }
        if bytes > maximumPatternBytesPerRequest {
            return "regular expressions of \(bytes) bytes together in one request; at most \(maximumPatternBytesPerRequest)"
        }
        return nil
    }

    /// A pattern that is refused: too long, not RE2 syntax, or too large to compile.
    public struct CompileError: Error, Sendable, CustomStringConvertible {
        public let pattern: String
        public let reason: String
        public var description: String {
            // The pattern is shown cut: an error about a 100 KB pattern need not repeat it.
            let shown = pattern.utf8.count <= 80 ? pattern : String(decoding: pattern.utf8.prefix(80), as: UTF8.self) + "…"
            return "invalid regular expression \"\(shown)\": \(reason)"
        }
    }

    public init(_ pattern: String) throws(CompileError) {
        let length = pattern.utf8.count
        guard length <= BoundedRegex.maximumPatternBytes else {
            throw CompileError(pattern: pattern, reason: "longer than \(BoundedRegex.maximumPatternBytes) bytes (\(length))")
        }
        var message = [CChar](repeating: 0, count: 256)
        let capacity = message.count
        var text = pattern
        let pointer = text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) {
                rs_re2_compile($0.baseAddress, $0.count, BoundedRegex.memoryBudget, &message, capacity)
            }
        }
        guard let pointer else {
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw CompileError(pattern: pattern, reason: reason)
        }
        self.compiled = pointer
        self.pattern = pattern
    }

    deinit {
        rs_re2_free(compiled)
    }

    /// Whether the pattern occurs anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { rs_re2_search(compiled, $0.baseAddress, $0.count) != 0 }
        }
    }

    // MARK: - Shared patterns

    /// Sendable by hand: only read and written under `live`'s lock.
    private final class Reference: @unchecked Sendable {
        weak var regex: BoundedRegex?
        init(_ regex: BoundedRegex) { self.regex = regex }
    }

    /// Patterns by text; entries whose pattern died are swept when the table doubles.
    private struct Live {
        var references: [String: Reference] = [:]
        var sweepAt = 1024
    }

    private static let live = Mutex(Live())

    /// The compiled pattern, shared with every other live user of the same text: 10,000
    /// aggregate monitors over ten patterns compile ten.
    public static func shared(_ pattern: String) throws(CompileError) -> BoundedRegex {
        if let existing = live.withLock({ $0.references[pattern]?.regex }) { return existing }
        let regex = try BoundedRegex(pattern)
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
