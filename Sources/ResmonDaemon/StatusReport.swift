import ResmonAPI
import ResmonSystem
import Statistics

#if canImport(Glibc)
    import Glibc
#endif

/// `/v1/status`: what each service reports, read on the HTTP threads.
struct StatusReport: Sendable {
    let startedAt: Double
    let configuration: RunningConfiguration
    let collector: Collector
    let table: SampleTable
    let sampling: SamplingService
    let selfLimits: SelfLimitsService
    let http: HTTPService
    let remoteWrite: RemoteWriteService
    let stateWatch: StateDirectoryWatch

    func response() -> StatusResponse {
        let configuration = self.configuration.current
        let subsystems = collector.statuses()
        let now = Clock.wall()
        let busy = sampling.engine.busy
        let cycleDurations = sampling.cycleDurations
        var response = StatusResponse(
            version: ResmonVersion.current, pid: getpid(), startedAt: startedAt, uptimeSeconds: now - startedAt,
            stepSeconds: Double(configuration.step), cycles: sampling.cyclesCompleted, statistics: table.count,
            subsystemsAvailable: subsystems.filter { $0.state == .available }.count,
            subsystemsUnavailable: subsystems.filter { $0.state != .available && $0.state != .disabled }.count,
            stateDirectory: configuration.stateDirectory, configDirectory: configuration.configDirectory,
            socket: configuration.socketPath, listen: http.listenDescription,
            busy: busy != nil,
            cpuSecondsTotal: Clock.processCPU(), residentBytes: HostFacts.residentBytes(),
            lastSampleCPUSeconds: sampling.lastCycleCPU, busyReason: busy,
            limits: selfLimits.limits(configuration), storageError: sampling.engine.storageProblem ?? stateWatch.problem,
            reloads: sampling.reloads.applications)
        response.longestCycleSeconds = cycleDurations.longest
        response.cycleDurations = cycleDurations.histogram
        response.lastHistorySnapshot = sampling.snapshots.lastReport
        response.lastCycleAgeSeconds = sampling.lastCycleAge
        response.stalled = sampling.stall
        response.host = sampling.engine.identity.host
        response.labels = sampling.engine.identity.labels
        response.remoteWrite = remoteWrite.status()
        return response
    }
}
