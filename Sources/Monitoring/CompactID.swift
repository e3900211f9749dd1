/// A monitor's id as the engine keeps it in memory: a UUID in the form resmond makes them
/// (lowercase 8-4-4-4-12, the API's default id) in its 16 bytes, any other id as its text.
///
/// As text a UUID is 36 bytes on the heap, an allocation of its own, referenced from the
/// directory and from the index by id: 282-294 bytes a monitor at 1,000,000 through the API
/// against 186 with short ids (issue 17).
enum CompactID: Hashable, Sendable {
    case uuid(UInt64, UInt64)
    case text(String)

    init(_ id: String) {
        self = CompactID.parse(id).map { .uuid($0.0, $0.1) } ?? .text(id)
    }

    /// The id's text, exactly as it was given.
    var text: String {
        switch self {
        case .text(let text): return text
        case .uuid(let high, let low): return CompactID.format(high, low)
        }
    }

    /// The two halves of a lowercase 8-4-4-4-12 UUID; nil for any other text (which then stays
    /// text, so that every id reads back exactly as given).
    static func parse(_ id: String) -> (UInt64, UInt64)? {
        guard id.utf8.count == 36 else { return nil }
        var text = id
        return text.withUTF8 { bytes -> (UInt64, UInt64)? in
            var halves: (UInt64, UInt64) = (0, 0)
            var digits = 0
            for (position, byte) in bytes.enumerated() {
                if position == 8 || position == 13 || position == 18 || position == 23 {
                    guard byte == UInt8(ascii: "-") else { return nil }
                    continue
                }
                let value: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte - UInt8(ascii: "a") + 10
                default: return nil
                }
                if digits < 16 { halves.0 = halves.0 << 4 | UInt64(value) } else { halves.1 = halves.1 << 4 | UInt64(value) }
                digits += 1
            }
            return halves
        }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    static func format(_ high: UInt64, _ low: UInt64) -> String {
        String(unsafeUninitializedCapacity: 36) { buffer in
            var position = 0
            for digit in 0..<32 {
                if digit == 8 || digit == 12 || digit == 16 || digit == 20 {
                    buffer[position] = UInt8(ascii: "-")
                    position += 1
                }
                let half = digit < 16 ? high : low
                let shift = UInt64((15 - digit % 16) * 4)
                buffer[position] = hexDigits[Int((half >> shift) & 0xf)]
                position += 1
            }
            return position
        }
    }
}

/// The engine's index from monitor id to slot, keyed by `CompactID`.
struct IDIndex {
    private var slots: [CompactID: Int] = [:]

    subscript(id: String) -> Int? {
        get { slots[CompactID(id)] }
        set { slots[CompactID(id)] = newValue }
    }

    var count: Int { slots.count }
    var values: Dictionary<CompactID, Int>.Values { slots.values }

    /// Bytes its table takes (for the memory limit's answer).
    var approximateBytes: Int { slots.capacity * (MemoryLayout<CompactID>.stride + MemoryLayout<Int>.stride) }
}
