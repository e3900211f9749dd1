import FoundationEssentials
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The parsers resmond feeds with text from outside, each behind an entry point that takes any
/// bytes: libFuzzer calls them (`resmon-fuzz`, `make fuzz`) and the replay tests feed them the
/// corpora (Tests/FuzzCorpus, docs/RELIABILITY.md). An entry point returns for every input;
/// a trap (overflow, index out of range, force unwrap) or a sanitizer report is a finding.
public enum FuzzTargets {
    /// One harness: its name (its corpus is Tests/FuzzCorpus/NAME) and its entry point.
    public struct Harness: Sendable {
        public let name: String
        public let run: @Sendable ([UInt8]) -> Void
    }

    /// Every harness, in the order `make fuzz` runs them.
    public static let harnesses: [Harness] = [
        Harness(name: "filter", run: fuzzFilter),
        Harness(name: "prometheus", run: fuzzPrometheusText),
        Harness(name: "perfmon", run: fuzzPerfmonXML),
        Harness(name: "configuration", run: fuzzConfiguration),
        Harness(name: "request", run: fuzzRequestPath),
        Harness(name: "sse", run: fuzzSSE),
        Harness(name: "history", run: fuzzHistorySnapshot),
        Harness(name: "proc", run: fuzzProcFiles)
    ]

    public static func harness(named name: String) -> Harness? { harnesses.first { $0.name == name } }

    /// Removes the process's scratch directory (a replay's child does before it exits); the
    /// harnesses that need it must not run after.
    public static func removeScratchDirectory() {
        guard Scratch.made.withLock({ $0 }) else { return }
        try? FileManager.default.removeItem(atPath: Scratch.directory)
    }

    /// The repository's root, from this file's place in it: the fixtures the proc harness
    /// mutates are read from Tests/.
    static let repositoryRoot = String(#filePath.dropLast("/Sources/FuzzTargets/FuzzTargets.swift".count))
}

/// A directory of the fuzzing process's own, made on first use (the harnesses that need files:
/// a state database, a /proc tree).
enum Scratch {
    static let made = Lock(false)
    static let directory: String = {
        made.withLock { $0 = true }
        var template = Array("/tmp/resmon-fuzz-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, let made = mkdtemp(base) else { return "/tmp" }
            return String(cString: made)
        }
    }()
}

/// Reads little pieces of a fuzz input: a choice, then the rest as the parser's input.
struct InputCursor {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The next byte, or 0 past the end.
    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    /// One of `count` choices (count > 0).
    mutating func choice(_ count: Int) -> Int { Int(byte()) % count }

    var rest: [UInt8] { Array(bytes[min(position, bytes.count)...]) }
}
