/// UUIDs as text, without Foundation's UUID type.
public enum UUIDText {
    /// 32 hexadecimal digits (or 16 bytes) in the 8-4-4-4-12 form.
    public static func format(hex digits: String) -> String? {
        let hex = Array(digits.lowercased().filter { $0.isHexDigit })
        guard hex.count >= 32 else { return nil }
        return [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { String(hex[$0]) }.joined(separator: "-")
    }

    public static func format(bytes: [UInt8]) -> String {
        let hex = bytes.map { byte -> String in
            let text = String(byte, radix: 16)
            return text.count == 1 ? "0" + text : text
        }.joined()
        return format(hex: hex) ?? hex
    }

    /// Whether `text` is a UUID in the 8-4-4-4-12 form (either case).
    public static func isUUID(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard bytes.count == 36 else { return false }
        for (index, byte) in bytes.enumerated() {
            if [8, 13, 18, 23].contains(index) {
                guard byte == UInt8(ascii: "-") else { return false }
            } else {
                guard Character(Unicode.Scalar(byte)).isHexDigit else { return false }
            }
        }
        return true
    }
}
