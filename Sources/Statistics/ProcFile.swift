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

    /// Reads the whole file and hands its bytes to `body`.
    public func read<Result>(_ body: (UnsafeBufferPointer<UInt8>) throws -> Result) throws -> Result {
        let length = try fill()
        return try buffer.withUnsafeBufferPointer { all in
            try body(UnsafeBufferPointer(rebasing: all[0..<length]))
        }
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
    return try? file.read { String(decoding: $0, as: UTF8.self) }
}

func pathExists(_ path: String) -> Bool {
    access(path, F_OK) == 0
}

/// Lists a directory's entries (without `.` and `..`); empty when it cannot be read.
func directoryEntries(_ path: String) -> [String] {
    guard let directory = opendir(path) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
        }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// Walks text a line and a field at a time, without allocating.
public struct TextScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var position: Int

    public init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.position = 0
    }

    public var atEnd: Bool { position >= bytes.count }

    /// The next line (without its newline) as a scanner of its own.
    public mutating func nextLine() -> TextScanner? {
        guard position < bytes.count else { return nil }
        let start = position
        while position < bytes.count && bytes[position] != 0x0a { position += 1 }
        let line = TextScanner(UnsafeBufferPointer(rebasing: bytes[start..<position]))
        if position < bytes.count { position += 1 }
        return line
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0a }

    mutating func skipSpaces() {
        while position < bytes.count && TextScanner.isSpace(bytes[position]) { position += 1 }
    }

    /// The next field separated by spaces, tabs or newlines.
    public mutating func field() -> UnsafeBufferPointer<UInt8>? {
        skipSpaces()
        guard position < bytes.count else { return nil }
        let start = position
        while position < bytes.count && !TextScanner.isSpace(bytes[position]) { position += 1 }
        return UnsafeBufferPointer(rebasing: bytes[start..<position])
    }

    /// The next field as text.
    public mutating func word() -> String? {
        field().map { String(decoding: $0, as: UTF8.self) }
    }

    /// The next field as an unsigned integer; nil when it is not one.
    public mutating func unsigned() -> UInt64? {
        guard let field = field() else { return nil }
        return TextScanner.parseUnsigned(field)
    }

    /// The next field as a decimal number; nil when it is not one.
    public mutating func decimal() -> Double? {
        guard let field = field() else { return nil }
        return TextScanner.parseDecimal(field)
    }

    /// Skips `count` fields.
    public mutating func skip(_ count: Int) {
        for _ in 0..<count { _ = field() }
    }

    /// Moves past the next occurrence of `byte`; false when there is none.
    public mutating func skip(past byte: UInt8) -> Bool {
        while position < bytes.count {
            defer { position += 1 }
            if bytes[position] == byte { return true }
        }
        return false
    }

    public var rest: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[position...]) }

    public static func parseUnsigned(_ field: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !field.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in field {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (product, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = product.addingReportingOverflow(UInt64(byte - 0x30))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }

    /// A decimal such as `0.35` or `-1.5`, rounded once (digits as an integer over a power of ten).
    public static func parseDecimal(_ field: UnsafeBufferPointer<UInt8>) -> Double? {
        guard !field.isEmpty else { return nil }
        var digits: UInt64 = 0
        var fractionDigits = 0
        var seenDot = false
        var seenDigit = false
        var negative = false
        for (offset, byte) in field.enumerated() {
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

extension UnsafeBufferPointer where Element == UInt8 {
    /// Whether these bytes spell `text`.
    func spells(_ text: StaticString) -> Bool {
        guard count == text.utf8CodeUnitCount else { return false }
        let other = UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        return elementsEqual(other)
    }

    func starts(with text: StaticString) -> Bool {
        guard count >= text.utf8CodeUnitCount else { return false }
        let other = UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount)
        return self[0..<other.count].elementsEqual(other)
    }
}

/// The names in a directory that end in `suffix` (hidden ones left out), sorted; nil when the
/// directory cannot be opened (errno says why).
public func fileNames(in directory: String, endingIn suffix: String) -> [String]? {
    guard let handle = opendir(directory) else { return nil }
    defer { closedir(handle) }
    var names: [String] = []
    while let entry = readdir(handle) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name.hasSuffix(suffix) && !name.hasPrefix(".") { names.append(name) }
    }
    return names.sorted()
}
