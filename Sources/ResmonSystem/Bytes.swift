#if canImport(Glibc)
    import Glibc
#endif

// Byte-level helpers that need a pointer, kept here so that the modules above stay free of
// unsafe code: they hand bytes around as `Span<UInt8>` (borrowed, cannot escape) or `[UInt8]`.

extension String {
    /// The bytes as UTF-8, invalid sequences repaired, as `String(decoding:as:)` does.
    public init(decodingUTF8 bytes: Span<UInt8>) {
        self = bytes.withUnsafeBufferPointer { String(decoding: $0, as: UTF8.self) }
    }
}

extension Array where Element == UInt8 {
    /// A copy of borrowed bytes (one allocation, one copy).
    public init(copying bytes: Span<UInt8>) {
        self = bytes.withUnsafeBufferPointer { Array($0) }
    }

    /// Appends `value` as eight little-endian bytes.
    @inlinable
    public mutating func appendLittleEndian(_ value: UInt64) {
        // Safe shifts rather than the value's raw bytes; the optimiser stores them as one word.
        for shift in stride(from: 0, to: 64, by: 8) { append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    /// Writes `value` as eight little-endian bytes at `offset` (a field filled in last).
    @inlinable
    public mutating func storeLittleEndian(_ value: UInt64, at offset: Int) {
        for index in 0..<8 { self[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(index * 8)) }
    }

    /// Appends the floats' bit patterns, four little-endian bytes each: one copy on a
    /// little-endian machine, where the array's memory already has that layout.
    public mutating func appendLittleEndian(contentsOf values: [Float]) {
        #if _endian(little)
            values.withUnsafeBytes { self += $0 }
        #else
            for value in values {
                let bits = value.bitPattern
                for shift in stride(from: 0, to: 32, by: 8) { append(UInt8(truncatingIfNeeded: bits >> UInt32(shift))) }
            }
        #endif
    }
}

extension Array where Element == Float {
    /// The floats whose little-endian bit patterns `bytes` holds (its count a multiple of four):
    /// one copy on a little-endian machine.
    public init(littleEndianBytes bytes: ArraySlice<UInt8>) {
        precondition(bytes.count % 4 == 0, "a float is four bytes")
        let count = bytes.count / 4
        #if _endian(little)
            self = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
                bytes.withUnsafeBytes { source in
                    UnsafeMutableRawBufferPointer(buffer).copyMemory(from: source)
                }
                initialized = count
            }
        #else
            var values: [Float] = []
            values.reserveCapacity(count)
            var index = bytes.startIndex
            for _ in 0..<count {
                let bits = UInt32(bytes[index]) | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]) << 16 | UInt32(bytes[index + 3]) << 24
                values.append(Float(bitPattern: bits))
                index += 4
            }
            self = values
        #endif
    }
}

extension Span where Element == UInt8 {
    /// The eight bytes at `offset` as a little-endian integer, loaded as one unaligned word
    /// (bounds-checked by `RawSpan`; every bit pattern is a valid `UInt64`).
    @inlinable
    public func littleEndianUInt64(at offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.unsafeLoadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

/// An open directory, read one entry at a time and closed when the value goes away.
/// Noncopyable, so that exactly one owner closes it, without a class allocation per listing.
public struct DirectoryListing: ~Copyable {
    private let handle: OpaquePointer

    /// Opens `path`; throws why it cannot be listed.
    public init(_ path: String) throws(Errno) {
        guard let handle = opendir(path) else { throw Errno.current }
        self.handle = handle
    }

    deinit { closedir(handle) }

    /// Calls `body` with each entry, `.` and `..` included, in the order `readdir` returns them:
    /// the name's bytes (borrowed, no allocation) and whether `d_type` says it is a directory
    /// (false when the file system does not say).
    public func forEachEntry(_ body: (_ name: Span<UInt8>, _ isDirectory: Bool) throws -> Void) rethrows {
        while let entry = readdir(handle) {
            let isDirectory = entry.pointee.d_type == UInt8(DT_DIR)
            try withUnsafeBytes(of: &entry.pointee.d_name) { raw in
                let name = raw.bindMemory(to: UInt8.self)
                let length = name.firstIndex(of: 0) ?? name.count
                try body(UnsafeBufferPointer(rebasing: name[..<length]).span, isDirectory)
            }
        }
    }
}

/// Calls `body` with each entry of a directory (`DirectoryListing.forEachEntry`); throws when
/// the directory cannot be opened.
public func forEachDirectoryEntry(in path: String, _ body: (_ name: Span<UInt8>, _ isDirectory: Bool) -> Void) throws(Errno) {
    let listing = try DirectoryListing(path)
    listing.forEachEntry(body)
}

/// Asks the kernel to reclaim the pages of `length` bytes at address `start` (`MADV_PAGEOUT`);
/// false when it refuses. Only hints: the pages fault back in when touched.
public func releasePages(start: UInt, length: Int) -> Bool {
    guard let address = UnsafeMutableRawPointer(bitPattern: start) else { return false }
    return madvise(address, length, MADV_PAGEOUT) == 0
}

extension Span where Element == UInt8 {
    /// Whether these bytes spell `text` (a literal such as a /proc label).
    @inlinable
    public func spells(_ text: StaticString) -> Bool {
        count == text.utf8CodeUnitCount && starts(with: text)
    }

    /// Whether these bytes begin with `text`.
    @inlinable
    public func starts(with text: StaticString) -> Bool {
        // A literal's bytes are static and immutable: reading them through its pointer is the
        // one way StaticString offers that allocates nothing.
        let length = text.utf8CodeUnitCount
        guard count >= length else { return false }
        let other = UnsafeBufferPointer(start: text.utf8Start, count: length)
        for index in 0..<length where self[index] != other[index] { return false }
        return true
    }
}

/// The login name of `uid` from the password database; nil when it has none (or the name is
/// longer than the 1 KB buffer allows).
public func userName(uid: UInt32) -> String? {
    var entry = passwd()
    var result: UnsafeMutablePointer<passwd>?
    var buffer = [CChar](repeating: 0, count: 1024)
    guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil else { return nil }
    return String(cString: entry.pw_name)
}
