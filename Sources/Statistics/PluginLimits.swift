import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// The series all plug-ins together may hold (`registry.maxSeries`): each plug-in claims its
/// run's count before the run is applied, and a claim that would pass the limit is refused, so
/// that the plug-ins already holding their series keep them.
public final class PluginSeriesBudget: Sendable {
    private struct Claims {
        var limit: Int
        var byPlugin: [String: Int] = [:]
        var total = 0
    }

    private let claims: Lock<Claims>

    public init(limit: Int = .max) { claims = Lock(Claims(limit: limit)) }

    public var limit: Int {
        get { claims.withLock { $0.limit } }
        set { claims.withLock { $0.limit = newValue } }
    }

    /// Sets `plugin`'s claim to `count` series: nil when that fits, else the series the
    /// others hold (the plug-in's previous claim is then released).
    func claim(_ plugin: String, _ count: Int) -> Int? {
        claims.withLock { claims in
            let others = claims.total - (claims.byPlugin[plugin] ?? 0)
            guard others + count <= claims.limit else {
                claims.total = others
                claims.byPlugin[plugin] = nil
                return others
            }
            claims.total = others + count
            claims.byPlugin[plugin] = count
            return nil
        }
    }

    func release(_ plugin: String) { _ = claims.withLock { claims in claims.byPlugin.removeValue(forKey: plugin).map { claims.total -= $0 } } }
}

extension PluginConfiguration {
    /// Whether a statistic (its STATISTIC part) is archived: it matches one of `archive`'s
    /// patterns, where `*` stands for any run of characters.
    public func archives(_ statistic: String) -> Bool {
        archive.contains { PluginConfiguration.matches(Array($0.utf8)[...], Array(statistic.utf8)[...]) }
    }

    static func matches(_ pattern: ArraySlice<UInt8>, _ text: ArraySlice<UInt8>) -> Bool {
        guard let first = pattern.first else { return text.isEmpty }
        if first == 0x2a {  // "*"
            let rest = pattern.dropFirst()
            if rest.isEmpty { return true }
            return text.indices.contains { matches(rest, text[$0...]) } || matches(rest, text[text.endIndex...])
        }
        guard let head = text.first, head == first else { return false }
        return matches(pattern.dropFirst(), text.dropFirst())
    }
}

/// Reading a textfile plug-in's `*.prom` files within its limit, without blocking.
enum TextfileReader {
    /// What one file gave: its bytes, a reason it was skipped, or the plug-in's limit passed.
    enum Outcome {
        case read([UInt8])
        case skipped(String)
        case tooLarge(size: Int)
    }

    /// A file read whole and read again if it changed meanwhile (size, inode or modification
    /// time), so that a file rewritten in place is never taken half-written. Opened with
    /// O_NONBLOCK and checked with fstat before a byte is read: a FIFO, a device or a directory
    /// is skipped, never waited on, and a file larger than `limit` (a sparse 300 MB one, say) is
    /// refused by its size.
    static func read(_ path: String, limit: Int) -> Outcome {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        } catch {
            return .skipped("cannot open: \(error)")
        }
        defer { file.close() }
        for _ in 0..<20 {
            var before = stat()
            guard fstat(file.rawValue, &before) == 0 else { return .skipped("cannot stat: \(Errno.current)") }
            guard before.st_mode & S_IFMT == S_IFREG else { return .skipped("is not a regular file") }
            let size = Int(before.st_size)
            guard size <= limit else { return .tooLarge(size: size) }
            // One byte more than the size, to see a file that grew while it was read.
            var bytes = [UInt8](repeating: 0, count: size + 1)
            var count = 0
            while count < bytes.count {
                guard let read = try? file.read(into: &bytes, at: count, count: bytes.count - count, fromAbsoluteOffset: count), read > 0 else { break }
                count += read
            }
            var after = stat()
            guard fstat(file.rawValue, &after) == 0 else { return .skipped("cannot stat: \(Errno.current)") }
            let same =
                before.st_ino == after.st_ino && before.st_size == after.st_size
                && before.st_mtim.tv_sec == after.st_mtim.tv_sec && before.st_mtim.tv_nsec == after.st_mtim.tv_nsec
            if same && count == size {
                bytes.removeLast()
                return .read(bytes)
            }
            usleep(2000)
        }
        return .skipped("kept changing while it was read")
    }
}
