/// A monitor's runtime state as the state database keeps it (`monitor_state`, `instance_state`):
/// what a restart must not forget. Field names are the stored JSON's: renaming one forgets the
/// state of every monitor saved before.
struct SavedState: Codable, Sendable {
    var phase: String
    var count: Int32
    var running: Bool
    var paused: Bool
    var notified: Bool
    var loggedRaised: Bool
    var lastLogged: Double?
    var raisedAt: Double?
    var startedAt: Double?
    var lastRaiseEvent: Int64?
    var extra: ExtraState?
}

extension SavedState {
    /// The same state as `other`, as stored (NaN, which the stored JSON leaves out, matches NaN).
    func matches(_ other: SavedState) -> Bool {
        phase == other.phase && count == other.count && running == other.running && paused == other.paused
            && notified == other.notified && loggedRaised == other.loggedRaised && lastLogged == other.lastLogged
            && raisedAt == other.raisedAt && startedAt == other.startedAt && lastRaiseEvent == other.lastRaiseEvent
            && extra.map { mine in other.extra.map { mine.matches($0) } ?? false } ?? (other.extra == nil)
    }
}

extension ExtraState {
    func matches(_ other: ExtraState) -> Bool {
        func same(_ left: Double, _ right: Double) -> Bool { left == right || (left.isNaN && right.isNaN) }
        return same(level, other.level) && same(extreme, other.extreme) && same(extremeTime, other.extremeTime)
            && same(reported, other.reported) && same(lastKnown, other.lastKnown) && noDataRaised == other.noDataRaised
            && noDataEvent == other.noDataEvent
    }
}
