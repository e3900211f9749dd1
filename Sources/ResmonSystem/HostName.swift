#if canImport(Glibc)
    import Glibc
#endif

/// This host's name (gethostname), as events and Alertmanager labels carry it.
public func hostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
