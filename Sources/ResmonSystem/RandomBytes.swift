import CSystem

/// `count` bytes from the kernel's random generator (getrandom) in one read, for many random
/// ids at once; nil when the kernel refuses (then draw them otherwise).
public func randomBytes(_ count: Int) -> [UInt8]? {
    var bytes = [UInt8](repeating: 0, count: count)
    let status = bytes.withUnsafeMutableBytes { buffer in
        buffer.baseAddress.map { rs_random_bytes($0, UInt(buffer.count)) } ?? 0
    }
    return status == 0 ? bytes : nil
}
