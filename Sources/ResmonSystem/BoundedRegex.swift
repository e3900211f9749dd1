import CRE2

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
    /// What this pattern holds of its budget (its RE2 `max_mem`), given back when it dies.
    public let reserved: Int64
    private let ledger: Budget
    private let holder: Holder

    /// The longest pattern accepted, in UTF-8 bytes.
    public static let maximumPatternBytes = 1024
    /// What an ordinary pattern's compiled program and DFA caches may take (RE2's `max_mem`):
    /// enough for keys, labels and messages matched with classes and alternations (RSS grows
    /// ~30–55 KB a live pattern, measured with RE2 alone in a small C++ program, 20 patterns a
    /// run), too little for the large Unicode programs an attack builds, which then need
    /// `memoryBudget`.
    public static let smallBudget: Int64 = 64 << 10
    /// What one large pattern's compiled program and its DFA caches may take. A pattern whose
    /// program alone exceeds it does not compile; a search whose DFA cache fills it continues in
    /// RE2's NFA, still linear.
    public static let memoryBudget: Int64 = 1 << 20
    /// What all live patterns (stored monitors' selectors and those of requests being answered)
    /// may reserve together. Each pattern is bounded, but 1,000 aggregates over distinct
    /// Unicode-class patterns took RSS from 25 to 479 MB and 50 s to compile (issue 22).
    public static let totalBudget: Int64 = 32 << 20
    /// The part of `totalBudget` large patterns may hold (eight of them): ordinary patterns
    /// always keep at least 24 MiB, 384 of them, however many large ones someone compiles.
    public static let largeBudget: Int64 = 8 << 20
    /// The daemon's ledger of those budgets; tests make their own.
    public static let budget = Budget(total: totalBudget, large: largeBudget)
    /// What one uid other than root may hold of the budget (64 ordinary patterns, of which two
    /// large ones may take 2 MiB), and all such uids together: one ordinary user filled the
    /// whole 32 MiB with 508 aggregates and locked out root, monitors.d and every reader (issue
    /// 22, third attack).
    public static let perUserShare = Budget.Share(total: 4 << 20, large: 2 << 20)
    public static let allUsersShare = Budget.Share(total: 16 << 20, large: 4 << 20)
    /// What the patterns of requests being answered (queries, filters) for requesters other
    /// than root may hold together.
    public static let requestsShare = Budget.Share(total: 8 << 20, large: 2 << 20)
    /// What one such requester (a uid, a TCP address without the token) may hold: two requests'
    /// sixteen ordinary patterns, one large one; and what all TCP addresses without the token
    /// may hold together, so that they cannot spend what local users' requests need.
    public static let perRequesterShare = Budget.Share(total: 2 << 20, large: 1 << 20)
    public static let addressesShare = Budget.Share(total: 4 << 20, large: 1 << 20)
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

    /// A pattern that is refused: too long, not RE2 syntax, or too large to compile — or, with
    /// `budgetSpent`, a pattern that may be fine but for which no memory is left now.
    public struct CompileError: Error, Sendable, CustomStringConvertible {
        public let pattern: String
        public let reason: String
        /// The live patterns hold all of `totalBudget` (or large ones all of `largeBudget`):
        /// the daemon is at a limit, the pattern is not wrong (the API answers 503 `busy`).
        public let budgetSpent: Bool
        /// With `budgetSpent`: it is the holder's own share that is spent, a uid's quota (429).
        public let quota: Bool

        init(pattern: String, reason: String, budgetSpent: Bool = false, quota: Bool = false) {
            self.pattern = pattern
            self.reason = reason
            self.budgetSpent = budgetSpent
            self.quota = quota
        }

        public var description: String {
            // The pattern is shown cut: an error about a 100 KB pattern need not repeat it.
            let shown = pattern.utf8.count <= 80 ? pattern : String(decoding: pattern.utf8.prefix(80), as: UTF8.self) + "…"
            if budgetSpent { return "regular expression \"\(shown)\": \(reason)" }
            return "invalid regular expression \"\(shown)\": \(reason)"
        }
    }

    /// Who holds a pattern, for the shares of the budget: root (its monitors, monitors.d, the
    /// configuration), a uid other than root (its monitors), or a request being answered, with
    /// who sent it.
    public enum Holder: Hashable, Sendable {
        case root
        case user(Int)
        case request(Requester)

        /// The holder of an owner's monitor.
        public static func owner(_ uid: Int) -> Holder { uid == 0 ? .root : .user(uid) }
    }

    public init(_ pattern: String, holder: Holder = .request(.nobody), budget: Budget = BoundedRegex.budget) throws(CompileError) {
        let length = pattern.utf8.count
        guard length <= BoundedRegex.maximumPatternBytes else {
            throw CompileError(pattern: pattern, reason: "longer than \(BoundedRegex.maximumPatternBytes) bytes (\(length))")
        }
        // Within the small budget first; only a pattern that needs more gets a large one.
        var outcome = try BoundedRegex.compile(pattern, memory: BoundedRegex.smallBudget, holder: holder, from: budget)
        if case .tooLarge = outcome {
            outcome = try BoundedRegex.compile(pattern, memory: BoundedRegex.memoryBudget, holder: holder, from: budget)
        }
        switch outcome {
        case .compiled(let pointer, let reserved):
            self.compiled = pointer
            self.reserved = reserved
            self.ledger = budget
            self.holder = holder
        case .tooLarge(let reason), .refused(let reason):
            throw CompileError(pattern: pattern, reason: reason)
        }
        self.pattern = pattern
    }

    private enum Outcome {
        case compiled(OpaquePointer, reserved: Int64)
        case tooLarge(String)
        case refused(String)
    }

    /// Reserves `memory` and compiles within it; the reservation stays only with a compiled pattern.
    private static func compile(_ pattern: String, memory: Int64, holder: Holder, from budget: Budget) throws(CompileError) -> Outcome {
        if let refusal = budget.reserve(memory, for: holder) {
            throw CompileError(pattern: pattern, reason: refusal.reason, budgetSpent: true, quota: refusal.quota)
        }
        var message = [CChar](repeating: 0, count: 256)
        let capacity = message.count
        var tooLarge: Int32 = 0
        var text = pattern
        let pointer = text.withUTF8 { bytes in
            bytes.withMemoryRebound(to: CChar.self) { rs_re2_compile($0.baseAddress, $0.count, memory, &message, capacity, &tooLarge) }
        }
        if let pointer { return .compiled(pointer, reserved: memory) }
        budget.release(memory, for: holder)
        let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return tooLarge != 0 && memory < memoryBudget ? .tooLarge(reason) : .refused(reason)
    }

    deinit {
        rs_re2_free(compiled)
        ledger.release(reserved, for: holder)
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

    private static let live = Lock(Live())

    /// The compiled pattern, shared with every other live user of the same text and holder:
    /// 10,000 aggregate monitors over ten patterns compile ten. Each holder compiles its own,
    /// so each is charged for what it holds.
    public static func shared(_ pattern: String, holder: Holder = .request(.nobody)) throws(CompileError) -> BoundedRegex {
        let name: String
        switch holder {
        case .root: name = "r\u{0}" + pattern
        case .user(let uid): name = "u\(uid)\u{0}" + pattern
        case .request(.root): name = "q0\u{0}" + pattern
        case .request(.user(let uid)): name = "qu\(uid)\u{0}" + pattern
        case .request(.address(let address)): name = "qa\(address)\u{0}" + pattern
        }
        if let existing = live.withLock({ $0.references[name]?.regex }) { return existing }
        let regex = try BoundedRegex(pattern, holder: holder)
        return live.withLock { live in
            if let existing = live.references[name]?.regex { return existing }
            if live.references.count >= live.sweepAt {
                live.references = live.references.filter { $0.value.regex != nil }
                live.sweepAt = max(1024, live.references.count * 2)
            }
            live.references[name] = Reference(regex)
            return regex
        }
    }
}
