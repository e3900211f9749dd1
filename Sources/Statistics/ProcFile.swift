import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// Why a kernel file could not be read.
public struct ReadError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let errno: Int32
    public init(path: String, errno: Int32) {
        self.path = path
        self.errno = errno
    }
    public var description: String { "\(path): \(Errno(rawValue: errno))" }
}

/// A /proc or /sys file kept open and re-read from offset 0 with `pread` into a reusable buffer.
///
/// Opening a /proc file costs as much as reading it; keeping the descriptor saves half of each
/// sample. Files that refuse `pread` are reopened on each read instead.
public final class ProcFile {
    public let path: String
    private var descriptor: Int32 = -1
    private var reopenEachTime = false
    private(set) var buffer: [UInt8]

    /// - Parameter keepOpen: false opens and closes the file on each read (for the many
    ///   per-process files beyond the descriptor budget).
    public init(_ path: String, capacity: Int = 4096, keepOpen: Bool = true) {
        self.path = path
        self.buffer = [UInt8](repeating: 0, count: capacity)
        self.reopenEachTime = !keepOpen
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Reads the whole file and lends its bytes to `body`: a `Span` cannot outlive the call,
    /// so no parser can keep a view of the buffer the next read overwrites.
    public func read<Result>(_ body: (Span<UInt8>) throws -> Result) throws -> Result {
        let length = try fill()
        let bytes = buffer  // a retain, not a copy: a span of a class's stored array cannot outlive the access
        return try body(bytes.span.extracting(0..<length))
    }

    /// Reads the whole file into an array of its own.
    public func readBytes() throws -> [UInt8] {
        let length = try fill()
        return Array(buffer[0..<length])
    }

    /// Reads the whole file as text (invalid UTF-8 repaired).
    public func readText() throws -> String {
        let length = try fill()
        return String(decoding: buffer[0..<length], as: UTF8.self)
    }

    private func fill() throws -> Int {
        if descriptor < 0 || reopenEachTime {
            if descriptor >= 0 { close(descriptor) }
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            if descriptor < 0 { throw ReadError(path: path, errno: errno) }
        }
        var length = 0
        let file = FileDescriptor(rawValue: descriptor)
        while true {
            if length == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let count: Int
            do {
                count = try file.read(into: &buffer, at: length, count: buffer.count - length, fromAbsoluteOffset: length)
            } catch {
                if error == .illegalSeek && !reopenEachTime {
                    reopenEachTime = true
                    return try fill()
                }
                close(descriptor)
                descriptor = -1
                throw ReadError(path: path, errno: error.rawValue)
            }
            if count == 0 {
                if reopenEachTime {
                    close(descriptor)
                    descriptor = -1
                }
                return length
            }
            length += count
        }
    }

    /// Whether the file is held open between reads.
    public var isOpen: Bool { descriptor >= 0 }

    /// Whether the kernel flagged the file as changed since it was last read (the mount table
    /// signals a change with POLLPRI/POLLERR). True when the file is not open.
    public func hasChanged() -> Bool {
        guard descriptor >= 0, !reopenEachTime else { return true }
        var entry = pollfd(fd: descriptor, events: Int16(POLLPRI), revents: 0)
        guard poll(&entry, 1, 0) >= 0 else { return true }
        return entry.revents & Int16(POLLPRI | POLLERR) != 0
    }
}

/// Reads a whole small file once (for files read at discovery, not per sample).
func readSmallFile(_ path: String) -> String? {
    let file = ProcFile(path, capacity: 512)
    return try? file.readText()
}

func pathExists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

/// Lists a directory's entries (without `.` and `..`); empty when it cannot be read.
func directoryEntries(_ path: String) -> [String] {
    var names: [String] = []
    try? forEachDirectoryEntry(in: path) { bytes, _ in
        let name = String(decodingUTF8: bytes)
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Walks text a line and a field at a time, without allocating.
///
/// The scanner keeps indices, not the bytes: each call takes the `Span` it scans. A struct that
/// stored a `Span` would have to be `~Escapable`, and declaring one (its initialiser's lifetime
/// dependence, `@_lifetime`) still needs the experimental `Lifetimes` feature in Swift 6.3; a
/// scanner of indices costs the same, and a span from another file can only trap on a bounds
/// check, never read outside its bytes. Fields come back as index ranges into the same span
/// (`bytes.extracting(range)`), since a function cannot return a `Span` without that feature either.
public struct TextScanner {
    /// Where the scanned text ends in the bytes, and where the scanner stands.
    let end: Int
    public private(set) var position: Int

    /// A scanner over all of `bytes`.
    public init(_ bytes: Span<UInt8>) {
        self.init(0..<bytes.count)
    }

    /// A scanner over `range` of the bytes handed to each call.
    public init(_ range: Range<Int>) {
        self.end = range.upperBound
        self.position = range.lowerBound
    }

    public var atEnd: Bool { position >= end }

    /// The part not scanned yet.
    public var rest: Range<Int> { min(position, end)..<end }

    /// The end to scan to: never past the bytes, which also lets the optimiser drop the bounds
    /// checks of the loops below.
    @inline(__always)
    private func limit(_ bytes: Span<UInt8>) -> Int { min(end, bytes.count) }

    /// The next line (without its newline) as a scanner of its own.
    public mutating func nextLine(in bytes: Span<UInt8>) -> TextScanner? {
        let end = limit(bytes)
        guard position < end else { return nil }
        let start = position
        while position < end && bytes[position] != 0x0a { position += 1 }
        let line = TextScanner(start..<position)
        if position < end { position += 1 }
        return line
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0a }

    mutating func skipSpaces(in bytes: Span<UInt8>) {
        let end = limit(bytes)
        while position < end && TextScanner.isSpace(bytes[position]) { position += 1 }
    }

    /// Where the next field separated by spaces, tabs or newlines lies in the bytes.
    public mutating func field(in bytes: Span<UInt8>) -> Range<Int>? {
        skipSpaces(in: bytes)
        let end = limit(bytes)
        guard position < end else { return nil }
        let start = position
        while position < end && !TextScanner.isSpace(bytes[position]) { position += 1 }
        return start..<position
    }

    /// The next field as text.
    public mutating func word(in bytes: Span<UInt8>) -> String? {
        field(in: bytes).map { String(decodingUTF8: bytes.extracting($0)) }
    }

    /// The next field as an unsigned integer; nil when it is not one.
    public mutating func unsigned(in bytes: Span<UInt8>) -> UInt64? {
        guard let field = field(in: bytes) else { return nil }
        return TextScanner.parseUnsigned(bytes.extracting(field))
    }

    /// The next field as a decimal number; nil when it is not one.
    public mutating func decimal(in bytes: Span<UInt8>) -> Double? {
        guard let field = field(in: bytes) else { return nil }
        return TextScanner.parseDecimal(bytes.extracting(field))
    }

    /// Skips `count` fields.
    public mutating func skip(_ count: Int, in bytes: Span<UInt8>) {
        for _ in 0..<count { _ = field(in: bytes) }
    }

    /// Moves past the next occurrence of `byte`; false when there is none.
    public mutating func skip(past byte: UInt8, in bytes: Span<UInt8>) -> Bool {
        let end = limit(bytes)
        while position < end {
            defer { position += 1 }
            if bytes[position] == byte { return true }
        }
        return false
    }

    public static func parseUnsigned(_ field: Span<UInt8>) -> UInt64? {
        guard !field.isEmpty else { return nil }
        var value: UInt64 = 0
        for index in field.indices {
            let byte = field[index]
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (product, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = product.addingReportingOverflow(UInt64(byte - 0x30))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }

    /// A decimal such as `0.35` or `-1.5`, rounded once (digits as an integer over a power of ten).
    public static func parseDecimal(_ field: Span<UInt8>) -> Double? {
        guard !field.isEmpty else { return nil }
        var digits: UInt64 = 0
        var fractionDigits = 0
        var seenDot = false
        var seenDigit = false
        var negative = false
        for offset in field.indices {
            let byte = field[offset]
            if byte == 0x2d && offset == 0 { negative = true; continue }
            if byte == 0x2e && !seenDot { seenDot = true; continue }
            guard byte >= 0x30 && byte <= 0x39, digits < UInt64.max / 10 - 10 else { return nil }
            seenDigit = true
            digits = digits * 10 + UInt64(byte - 0x30)
            if seenDot { fractionDigits += 1 }
        }
        guard seenDigit else { return nil }
        var scale = 1.0
        for _ in 0..<fractionDigits { scale *= 10 }
        let value = Double(digits) / scale
        return negative ? -value : value
    }
}

extension Span where Element == UInt8 {
    /// The index of the first `byte`; nil when there is none.
    func firstIndex(of byte: UInt8) -> Int? {
        for index in indices where self[index] == byte { return index }
        return nil
    }

    /// The index of the last `byte`; nil when there is none.
    func lastIndex(of byte: UInt8) -> Int? {
        for index in indices.reversed() where self[index] == byte { return index }
        return nil
    }
}

/// The names in a directory that end in `suffix` (hidden ones left out), sorted; nil when the
/// directory cannot be opened (errno says why).
public func fileNames(in directory: String, endingIn suffix: String) -> [String]? {
    var names: [String] = []
    do {
        try forEachDirectoryEntry(in: directory) { bytes, _ in
            let name = String(decodingUTF8: bytes)
            if name.hasSuffix(suffix) && !name.hasPrefix(".") { names.append(name) }
        }
    } catch {
        errno = error.rawValue  // callers read errno for why
        return nil
    }
    return names.sorted()
}
