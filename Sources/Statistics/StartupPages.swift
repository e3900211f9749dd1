import ResmonSystem

/// Gives back the pages of code a process ran only while starting (resmond, after its first
/// self-monitoring period; the bench before it measures resmond's memory).
///
/// Starting runs code that a running resmond never runs again: the dynamic loader's relocation,
/// gnutls' and p11-kit's initialisation (libmicrohttpd links them), the Swift runtime's first
/// metadata lookups, configuration, migrations. Their file-backed pages stay mapped, and counted
/// in RSS, until memory runs short. Once resmond has run a self-monitoring period, it asks the
/// kernel to reclaim the pages of its private read-only file mappings (`MADV_PAGEOUT`); the kernel
/// leaves alone any page another process maps too. The pages the running daemon needs fault back
/// in; a code path released and used later (a rarely used API call) costs a read from the page
/// cache or the disk the first time. `limits.releaseStartupPages: false` keeps them.
public enum StartupPages {
    /// Advises every private, non-writable, file-backed mapping; returns the bytes advised.
    public static func release() -> Int {
        let maps = ProcFile("/proc/self/maps", capacity: 1 << 16, keepOpen: false)
        // Split as an array: the parsing below slices, and runs once.
        return (try? maps.readBytes()).map { bytes -> Int in
            var advised = 0
            for line in bytes.split(separator: UInt8(ascii: "\n")) {
                let fields = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: true)
                guard fields.count >= 6, fields[5].first == UInt8(ascii: "/") else { continue }
                let permissions = Array(fields[1])
                guard permissions.count == 4, permissions[1] != UInt8(ascii: "w"), permissions[3] == UInt8(ascii: "p")
                else { continue }
                let range = fields[0].split(separator: UInt8(ascii: "-"))
                guard range.count == 2, let start = UInt(String(decoding: range[0], as: UTF8.self), radix: 16),
                    let end = UInt(String(decoding: range[1], as: UTF8.self), radix: 16), end > start
                else { continue }
                if releasePages(start: start, length: Int(end - start)) { advised += Int(end - start) }
            }
            return advised
        } ?? 0
    }
}
