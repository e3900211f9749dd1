import CSnappyShim

/// Snappy's block format (not the framed one), which remote_write bodies use: libsnappy
/// (Debian's libsnappy1v5), loaded on first use.
public enum Snappy {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static func compress(_ input: [UInt8]) throws(Failure) -> [UInt8] {
        var error = [CChar](repeating: 0, count: 256)
        guard rs_snappy_load(&error) == 1 else { throw Failure(description: message(error)) }
        let capacity = rs_snappy_max_compressed_length(input.count)
        var output = [UInt8](repeating: 0, count: capacity)
        var length = capacity
        let result = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                rs_snappy_compress(
                    source.baseAddress?.assumingMemoryBound(to: CChar.self), input.count,
                    target.baseAddress?.assumingMemoryBound(to: CChar.self), &length, &error)
            }
        }
        guard result == 0 else { throw Failure(description: message(error)) }
        output.removeLast(capacity - length)
        return output
    }

    /// Refuses input that would uncompress to more than `limit` bytes.
    public static func uncompress(_ input: [UInt8], limit: Int = 64 << 20) throws(Failure) -> [UInt8] {
        var error = [CChar](repeating: 0, count: 256)
        var length = 0
        let measured = input.withUnsafeBytes { source in
            rs_snappy_uncompressed_length(source.baseAddress?.assumingMemoryBound(to: CChar.self), input.count, &length, &error)
        }
        guard measured == 0 else { throw Failure(description: message(error)) }
        guard length <= limit else { throw Failure(description: "snappy: uncompresses to \(length) bytes, over \(limit)") }
        var output = [UInt8](repeating: 0, count: length)
        let result = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { target in
                rs_snappy_uncompress(
                    source.baseAddress?.assumingMemoryBound(to: CChar.self), input.count,
                    target.baseAddress?.assumingMemoryBound(to: CChar.self), &length, &error)
            }
        }
        guard result == 0 else { throw Failure(description: message(error)) }
        return Array(output.prefix(length))
    }

    private static func message(_ error: [CChar]) -> String {
        String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
