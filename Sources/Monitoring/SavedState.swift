/// A monitor's runtime state as the state database keeps it (`monitor_state`, `instance_state`):
/// what a restart must not forget. Field names are the stored JSON's: renaming one forgets the
/// state of every monitor saved before.
struct SavedState: Codable {
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
