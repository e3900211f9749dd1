import CResmon
import ResmonClient
import ResmonSystem

#if canImport(Glibc)
    import Glibc
#endif

/// libresmon's `resmon_inline_update`, called from here as a C consumer calls it: through the
/// shared library `make bench` links from the release build (dlopen), for a threshold monitor
/// that stays clear, one that stays raised, a watermark and a leaky bucket. No IPC per reading;
/// the bar: 100 ns an update.
enum InlineUpdates {
    typealias Open = @convention(c) (UnsafePointer<CChar>?, UnsafeMutablePointer<OpaquePointer?>?) -> Int32
    typealias Close = @convention(c) (OpaquePointer?) -> Void
    typealias ConfigInit = @convention(c) (UnsafeMutablePointer<resmon_monitor_config>?) -> Void
    typealias ControlInit = @convention(c) (UnsafeMutablePointer<resmon_monitor_control>?) -> Void
    typealias Create =
        @convention(c) (
            OpaquePointer?, UnsafePointer<resmon_monitor_config>?, UnsafeMutablePointer<resmon_monitor_control>?, UnsafeMutablePointer<UInt64>?
        ) -> Int32
    typealias Action = @convention(c) (OpaquePointer?, UInt64) -> Int32
    typealias Update = @convention(c) (OpaquePointer?, UInt64, Double, Double) -> Int32

    static let updates = 2_000_000

    static func run(libresmon path: String, resmond resmondPath: String, into results: inout Results) {
        guard let library = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            print("libresmon not loaded from \(path) (\(String(cString: dlerror()))): skipping the inline update figures")
            return
        }
        defer { dlclose(library) }
        func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
            dlsym(library, name).map { unsafeBitCast($0, to: type) }
        }
        guard let open = symbol("resmon_open", as: Open.self), let close = symbol("resmon_close", as: Close.self),
            let configInit = symbol("resmon_monitor_config_init", as: ConfigInit.self),
            let controlInit = symbol("resmon_monitor_control_init", as: ControlInit.self),
            let create = symbol("resmon_monitor_create", as: Create.self), let start = symbol("resmon_monitor_start", as: Action.self),
            let update = symbol("resmon_inline_update", as: Update.self)
        else { return print("\(path) lacks a resmon_* function: skipping the inline update figures") }
        // resmon_open asks resmond's /healthz: one runs for the session, idle.
        guard let daemon = BenchDaemon.start(resmondPath, name: "inline", arguments: ["--listen", "none"], privateBinary: false) else { return }
        defer { daemon.stop() }
        let socket = daemon.directory + "/resmond.sock"
        var session: OpaquePointer?
        guard open(socket, &session) == 0, let session else { return print("no resmond session: skipping the inline update figures") }
        defer { close(session) }
        let kinds: [(name: String, type: resmon_monitor_type, value: (Int) -> Double)] = [
            ("threshold_clear", RESMON_THRESHOLD, { Double($0 % 100) }),
            ("threshold_raised", RESMON_THRESHOLD, { 2e12 + Double($0 % 100) }),
            ("watermark", RESMON_WATERMARK, { Double($0 % 1000) }),
            ("bucket", RESMON_LEAKY_BUCKET, { Double($0) })
        ]
        for kind in kinds {
            var config = resmon_monitor_config()
            var control = resmon_monitor_control()
            configInit(&config)
            controlInit(&control)
            control.location = Int32(RESMON_INLINE.rawValue)
            config.type = Int32(kind.type.rawValue)
            config.condition = Int32(RESMON_ABOVE.rawValue)
            config.value = 1e12
            config.watermark = Int32(RESMON_WATERMARK_HIGH.rawValue)
            config.bucket_size = 1e12
            config.fill_value = 1
            var handle: UInt64 = 0
            let made = "bench:inline:\(kind.name)".withCString { key in
                config.key = key
                return create(session, &config, &control, &handle)
            }
            guard made == 0, start(session, handle) == 0 else { continue }
            // The threshold that stays raised raises once, here, before the clock starts.
            _ = update(session, handle, kind.value(0), 1)
            let began = Clock.monotonic()
            for index in 1...updates { _ = update(session, handle, kind.value(index), 1 + Double(index) * 0.001) }
            results.report("inline_update_\(kind.name)", (Clock.monotonic() - began) / Double(updates) * 1e9, "ns")
        }
        results.report("inline_update_bar", 100, "ns")
    }
}
