import Synchronization

#if RESMON_THREAD_SANITIZER
    import Glibc
#endif

/// A value that one thread at a time may touch: what every module in resmond uses instead of
/// Synchronization's `Mutex`, so that `make sanitize` can run resmond under ThreadSanitizer.
///
/// On Linux `Mutex` waits on a futex, which ThreadSanitizer has no interceptor for: it would
/// see none of the ordering a `Mutex` gives and report every access it guards as a race. Built
/// with `-D RESMON_THREAD_SANITIZER`, a `Lock` is a pthread mutex instead, which the sanitizer
/// understands. Otherwise it is the `Mutex` itself, inlined into every caller.
public struct Lock<Value: ~Copyable>: ~Copyable {
    #if RESMON_THREAD_SANITIZER
        @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
        @usableFromInline let value: UnsafeMutablePointer<Value>

        public init(_ initialValue: consuming sending Value) {
            mutex = .allocate(capacity: 1)
            pthread_mutex_init(mutex, nil)
            value = .allocate(capacity: 1)
            value.initialize(to: initialValue)
        }

        deinit {
            value.deinitialize(count: 1)
            value.deallocate()
            pthread_mutex_destroy(mutex)
            mutex.deallocate()
        }

        @inlinable @discardableResult
        public borrowing func withLock<Result: ~Copyable, E: Error>(
            _ body: (inout sending Value) throws(E) -> sending Result
        ) throws(E) -> sending Result {
            pthread_mutex_lock(mutex)
            defer { pthread_mutex_unlock(mutex) }
            return try body(&value.pointee)
        }

        @inlinable
        public borrowing func withLockIfAvailable<Result: ~Copyable, E: Error>(
            _ body: (inout sending Value) throws(E) -> sending Result
        ) throws(E) -> sending Result? {
            guard pthread_mutex_trylock(mutex) == 0 else { return nil }
            defer { pthread_mutex_unlock(mutex) }
            return try body(&value.pointee)
        }
    #else
        @usableFromInline let mutex: Mutex<Value>

        @inlinable
        public init(_ initialValue: consuming sending Value) {
            mutex = Mutex(initialValue)
        }

        @inlinable @discardableResult
        public borrowing func withLock<Result: ~Copyable, E: Error>(
            _ body: (inout sending Value) throws(E) -> sending Result
        ) throws(E) -> sending Result {
            try mutex.withLock(body)
        }

        @inlinable
        public borrowing func withLockIfAvailable<Result: ~Copyable, E: Error>(
            _ body: (inout sending Value) throws(E) -> sending Result
        ) throws(E) -> sending Result? {
            try mutex.withLockIfAvailable(body)
        }
    #endif
}

extension Lock: @unchecked Sendable where Value: ~Copyable {}
