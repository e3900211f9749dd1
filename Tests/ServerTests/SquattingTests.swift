import Foundation
import Monitoring
import ResmonAPI
import Testing

/// docs/API.md, "Whose ids": an id with a dot belongs to root's configuration (monitors.d's
/// `<file stem>.<entry>`, `defaults.*`, `perfmon.*`, template instances), and a monitor that
/// depends on another owner's monitor never stops that owner deleting it. A non-root user can
/// neither squat an id root's files will want nor pin root's monitors in place.
@Suite struct SquattingTests {
    static func monitor(_ id: String, precondition: String? = nil) -> String {
        let after = precondition.map { #", "precondition": {"monitor": "\#($0)"}"# } ?? ""
        return #"{"id": "\#(id)", "target": "memory:host:used_bytes", "condition": "above", "value": 1\#(after)}"#
    }

    static func fileMonitor(_ id: String, file: String, precondition: String? = nil) throws -> FileMonitor {
        var spec = MonitorSpec(target: "memory:host:used_bytes", condition: "above", value: 1)
        if let precondition { spec.precondition = MonitorPrecondition(monitor: precondition) }
        return FileMonitor(id: id, spec: spec, source: "monitors.d/\(file)")
    }

    @Test func aNonRootCallerCannotCreateAnIDWithADot() throws {
        let rig = try RouterRig()
        for id in ["ops.disk-full", "defaults.cpu-busy", "perfmon.host.cpu_usage", "x."] {
            let answer = rig.send("POST", "/v1/monitors", body: Self.monitor(id), uid: 1000)
            #expect(answer.isError(403, .forbidden) && answer.error?.message.contains("dot") == true, "\(id) by uid 1000: \(answer)")
            #expect(rig.engine.monitor(id) == nil)
        }
        let batch = rig.send("POST", "/v1/monitors", body: "[\(Self.monitor("mine")), \(Self.monitor("ops.x"))]", uid: 1000)
        #expect(batch.isError(403, .forbidden), "\(batch)")
        #expect(rig.engine.monitor("mine") == nil, "a refused request creates none of its monitors")
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor("mine"), uid: 1000).status == 201)
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor("ops.by-root"), uid: 0).status == 201)
    }

    @Test func onlyRootImportsPerfmonIDs() throws {
        let rig = try RouterRig()
        let xml = #"<config><variable><name value="cpu_usage"/><alarm_trigger_level value="0.5"/></variable></config>"#
        let refused = rig.send("POST", "/v1/monitors/import/perfmon", query: [("object", "host")], body: xml, uid: 1000)
        #expect(refused.isError(403, .forbidden) && refused.error?.message.contains("import as root") == true, "\(refused)")
        #expect(rig.engine.list().isEmpty)
    }

    /// A squatter's monitor from before the refusal: the file's monitor takes its id at reload,
    /// and the reload says so. Root's own monitor on the id keeps it (root chose both).
    @Test func aFileMonitorTakesItsIDFromANonRootSquatter() throws {
        let rig = try RouterRig()
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor("ops.disk-full"), uid: 0).status == 201)
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor("ops.roots"), uid: 0).status == 201)
        // What a resmond from before the refusal let uid 1000 create.
        try rig.database.withDatabase { database in
            _ = try database.execute("UPDATE monitors SET owner = 1000 WHERE id = 'ops.disk-full'")
        }
        let engine = MonitorEngine(database: rig.database, table: rig.table, step: 5, host: "test")
        try engine.load()
        #expect(engine.monitor("ops.disk-full")?.owner == 1000)
        let problems = engine.reconcile(files: [
            try Self.fileMonitor("ops.disk-full", file: "ops.json"), try Self.fileMonitor("ops.roots", file: "ops.json")
        ])
        let taken = try #require(engine.monitor("ops.disk-full"))
        #expect(taken.owner == 0 && taken.spec.source == "monitors.d/ops.json", "\(taken)")
        #expect(problems.contains { $0.contains("ops.disk-full") && $0.contains("uid 1000") && $0.contains("removed") }, "\(problems)")
        #expect(engine.monitor("ops.roots")?.spec.source == nil, "root's own API monitor keeps its id")
        #expect(problems.contains { $0.contains("ops.roots") && $0.contains("created through the API") }, "\(problems)")
    }

    @Test func aDependentOfAnotherOwnerNeverBlocksTheDelete() throws {
        let rig = try RouterRig()
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor("rootdep"), uid: 0).status == 201)
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor("pin", precondition: "rootdep"), uid: 1000).status == 201)
        let deleted = rig.send("DELETE", "/v1/monitors/rootdep", uid: 0)
        #expect(deleted.status == 204, "uid 1000's dependent blocked root's delete: \(deleted)")
        #expect(rig.engine.monitor("rootdep") == nil)
        #expect(rig.engine.monitor("pin")?.spec.precondition?.monitor == "rootdep", "the dependent stays, waiting for rootdep")
        #expect(rig.engine.monitor("pin")?.state.warning?.contains("no monitor rootdep") == true)
        // The same owner's chain still holds together.
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor("base"), uid: 1000).status == 201)
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor("top", precondition: "base"), uid: 1000).status == 201)
        for uid: UInt32 in [1000, 0] {
            #expect(rig.send("DELETE", "/v1/monitors/base", uid: uid).isError(409, .conflict), "uid \(uid)")
        }
    }

    @Test func aDependentOfAnotherOwnerNeverKeepsAFileMonitor() throws {
        let rig = try RouterRig()
        #expect(rig.engine.reconcile(files: [try Self.fileMonitor("ops.base", file: "ops.json")]).isEmpty)
        #expect(rig.send("POST", "/v1/monitors", body: Self.monitor("pin", precondition: "ops.base"), uid: 1000).status == 201)
        let problems = rig.engine.reconcile(files: [])
        #expect(rig.engine.monitor("ops.base") == nil, "uid 1000's dependent kept root's file monitor: \(problems)")
        #expect(rig.engine.monitor("pin") != nil)
    }
}
