#if canImport(Glibc)
    import Glibc
#endif

/// Wall-clock and monotonic time in seconds, read once per sample.
public enum Clock {
    /// Seconds since the epoch.
    public static func wall() -> Double { read(CLOCK_REALTIME) }
    /// Seconds since an arbitrary point; never jumps.
    public static func monotonic() -> Double { read(CLOCK_MONOTONIC) }
    /// CPU seconds this process has used (all threads).
    public static func processCPU() -> Double { read(CLOCK_PROCESS_CPUTIME_ID) }
    /// CPU seconds the calling thread has used.
    public static func threadCPU() -> Double { read(CLOCK_THREAD_CPUTIME_ID) }

    private static func read(_ clock: clockid_t) -> Double {
        var now = timespec()
        clock_gettime(clock, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }
}
