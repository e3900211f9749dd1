#if canImport(Glibc)
    import Glibc
#endif

/// `fs`: space and inodes per mounted file system, from the mount table and `statvfs`.
///
/// Virtual file systems (proc, sysfs, tmpfs, cgroup …), read-only images (squashfs, iso9660) and
/// network file systems (whose `statvfs` can hang the sampler when the server is gone) are left out.
public final class FileSystemSubsystem: Subsystem {
    /// Its name and what it allows, declared once (BuiltInSubsystem.all).
    public static let builtIn = BuiltInSubsystem(name: "fs", samplesBetweenSteps: false)
    public var name: String { Self.builtIn.name }
    public let summary = "Space and inodes per mounted file system (statvfs)"

    static let excludedTypes: Set<String> = [
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devpts", "devtmpfs",
        "efivarfs", "fusectl", "hugetlbfs", "mqueue", "nsfs", "proc", "pstore", "ramfs", "rpc_pipefs",
        "securityfs", "selinuxfs", "sysfs", "tracefs", "tmpfs", "squashfs", "iso9660", "nfs", "nfs4",
        "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "ceph", "glusterfs", "fuse.gvfsd-fuse", "fuse.portal"
    ]

    private static let specs: [StatisticSpec] = [
        .gauge("size_bytes", "bytes", "Size of the file system", bound: .capacity(0)),
        .gauge("free_bytes", "bytes", "Free space, root's reserve included", bound: .capacity(0)),
        .gauge("available_bytes", "bytes", "Space available to unprivileged users", bound: .capacity(0)),
        .gauge("used_bytes", "bytes", "Space in use", bound: .capacity(0)),
        .gauge("used_ratio", "ratio", "Share of the space users can have that is in use, as df shows it", bound: .ratio),
        .gauge("inodes", "inodes", "Inodes", bound: .capacity(1)),
        .gauge("inodes_free", "inodes", "Inodes free", bound: .capacity(1)),
        .gauge("inodes_used_ratio", "ratio", "Share of inodes in use", bound: .ratio)
    ]

    struct Mount: Equatable {
        let device: String
        let path: String
        let type: String
    }

    private let mountTable: ProcFile
    private let slots: ResourceSlots
    /// The parsed mount table, re-read only when the kernel says it changed.
    private var mounts: [Mount]?

    public init(paths: HostPaths, table: SampleTable) {
        mountTable = ProcFile(paths.proc("self/mounts"), capacity: 16384)
        slots = ResourceSlots(subsystem: "fs", specs: FileSystemSubsystem.specs, table: table)
    }

    /// The real file systems in a mount table, the last mount on each path winning.
    static func realMounts(in bytes: Span<UInt8>) -> [Mount] {
        var byPath: [String: Mount] = [:]
        var order: [String] = []
        var text = TextScanner(bytes)
        while var line = text.nextLine(in: bytes) {
            guard let device = line.word(in: bytes), let path = line.word(in: bytes), let type = line.word(in: bytes),
                !excludedTypes.contains(type)
            else { continue }
            let mount = Mount(device: unescapeOctal(device), path: unescapeOctal(path), type: type)
            if byPath[mount.path] == nil { order.append(mount.path) }
            byPath[mount.path] = mount
        }
        return order.compactMap { byPath[$0] }
    }

    /// The mount table writes space, tab, newline and backslash as `\040`-style octal escapes.
    static func unescapeOctal(_ text: String) -> String {
        guard text.contains("\\") else { return text }
        var bytes: [UInt8] = []
        let utf8 = Array(text.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == 0x5c, index + 3 < utf8.count,
                let value = UInt8(String(decoding: utf8[(index + 1)...(index + 3)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func collect(into batch: inout SampleBatch) throws {
        if mounts == nil || mountTable.hasChanged() {
            mounts = try mountTable.read { FileSystemSubsystem.realMounts(in: $0) }
        }
        let mounts = self.mounts ?? []
        slots.begin()
        defer { slots.end() }
        for mount in mounts {
            var info = statvfs()
            guard statvfs(mount.path, &info) == 0, info.f_blocks > 0 else { continue }
            let unit = Double(info.f_frsize)
            let size = Double(info.f_blocks) * unit
            let free = Double(info.f_bfree) * unit
            let available = Double(info.f_bavail) * unit
            let used = size - free
            let inodes = Double(info.f_files)
            let inodesFree = Double(info.f_ffree)
            let handles = slots.handles(for: mount.path, capacities: [size, inodes]) {
                ["mount": mount.path, "device": mount.device, "fstype": mount.type]
            }
            let values = [
                size, free, available, used, used + available > 0 ? used / (used + available) : .nan,
                inodes, inodesFree, inodes > 0 ? (inodes - inodesFree) / inodes : .nan
            ]
            for (handle, value) in zip(handles, values) { batch.record(handle, value) }
        }
    }

    public func retireAll() {
        slots.retireAll()
        mounts = nil
    }
}
