import Foundation
import ResmonTestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Starting after a crash with the state directory's file system full (attack round 4, item 7):
/// opening the state database writes the next block of event ids before any is handed out, so
/// resmond refuses to start with a clear error and changes nothing; once there is space it
/// starts with its state whole. Root only: the test mounts a 3 MB tmpfs in a mount namespace
/// of its own (`unshare -m`), which goes with it.
@Suite struct FullDiskStartTests {
    static let script = #"""
        set -e
        work=$1; resmond=$2; mnt=$work/mnt
        mkdir -p "$mnt"
        mount -t tmpfs -o size=3M tmpfs "$mnt"
        run() { "$resmond" --state-dir "$mnt/state" --config-dir "$work/config" --listen none --step 1 --cpu-limit 1600 --memory-limit 4096 "$@"; }
        # Not through the function: $! must be resmond itself, not a subshell, for kill -9.
        "$resmond" --state-dir "$mnt/state" --config-dir "$work/config" --listen none --step 1 --cpu-limit 1600 --memory-limit 4096 2>"$work/first.log" &
        pid=$!
        tries=0
        until curl -sf --unix-socket "$mnt/state/resmond.sock" http://x/healthz >/dev/null 2>&1; do
          tries=$((tries + 1)); [ $tries -lt 3000 ] || { kill -9 $pid; echo "never answered"; exit 3; }
          sleep 0.02
        done
        kill -9 $pid; wait $pid || true
        dd if=/dev/zero of="$mnt/fill" bs=4k 2>/dev/null || true
        if run --cycles 1 2>"$work/full.log"; then echo "started on a full disk"; exit 4; fi
        echo "FULL: $(cat "$work/full.log")"
        rm "$mnt/fill"
        run --cycles 2 2>&1
        """#

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare")))
    func aStartOnAFullDiskIsRefusedClearlyAndLosesNothing() throws {
        let directory = TemporaryDirectory("resmon-full-disk")
        try directory.write("config/monitors.d/app.json", #"{"level": {"target": "app:test:level", "condition": "above", "value": 5}}"#)
        try directory.write("script.sh", Self.script)
        let result = try Products.run(
            "/usr/bin/unshare", ["-m", "/bin/sh", directory.file("script.sh"), directory.path, Products.path("resmond")], timeout: 120)
        #expect(result.status == 0, "exit \(result.status): \(result.output) \(result.error)")
        #expect(result.output.contains("FULL: resmond: error: cannot open the state database in"), "\(result.output)")
        #expect(result.output.contains("database or disk is full"), "\(result.output)")
        // Then, with space: the marker and the database agree (nothing lost), ids go on above the reservation.
        #expect(result.output.contains("resmond did not stop cleanly: ids of events continue above"), "\(result.output)")
        #expect(result.output.contains("stopped after 2 sampling cycles"), "\(result.output)")
        #expect(!result.output.contains("lost its contents"), "\(result.output)")
    }
}
