extension BoundedRegex {
    /// What live patterns may reserve together (`total`), and large ones among them (`large`):
    /// each pattern holds its RE2 `max_mem` from compiling until it dies. Within it, each uid
    /// other than root, all such uids together, and the requests being answered have shares of
    /// their own, so no one of them can spend what root (its monitors, monitors.d) and the
    /// others need; root is bounded by the total only. Among requests, each requester other
    /// than root (a uid, a TCP address without the token) has a share, and TCP addresses
    /// together one more: eight event streams with sixteen patterns each from one uid held all
    /// requests' 8 MiB and root's queries got 503 (issue 22, fourth attack). Root's requests
    /// are bounded by the total only.
    public final class Budget: Sendable {
        /// A part of the budget: at most `total` bytes, of which `large` for large patterns.
        public struct Share: Sendable {
            public let total: Int64
            public let large: Int64
            public init(total: Int64, large: Int64) {
                self.total = total
                self.large = large
            }
        }

        public let total: Int64
        public let large: Int64
        let perUser: Share
        let allUsers: Share
        let requests: Share
        let perRequester: Share
        let addresses: Share

        struct Held {
            var total: Int64 = 0
            var large: Int64 = 0

            mutating func add(_ memory: Int64, isLarge: Bool) {
                total += memory
                if isLarge { large += memory }
            }

            func admits(_ memory: Int64, isLarge: Bool, within share: Share) -> Bool {
                total + memory <= share.total && (!isLarge || large + memory <= share.large)
            }
        }

        struct Ledger {
            var all = Held()
            var users = Held()
            var requests = Held()
            var byUser: [Int: Held] = [:]
            var addresses = Held()
            var byRequester: [Requester: Held] = [:]
        }

        private let held = Lock(Ledger())

        public init(
            total: Int64, large: Int64, perUser: Share = BoundedRegex.perUserShare, allUsers: Share = BoundedRegex.allUsersShare,
            requests: Share = BoundedRegex.requestsShare, perRequester: Share = BoundedRegex.perRequesterShare,
            addresses: Share = BoundedRegex.addressesShare
        ) {
            self.perRequester = perRequester
            self.addresses = addresses
            self.total = total
            self.large = large
            self.perUser = perUser
            self.allUsers = allUsers
            self.requests = requests
        }

        /// What live patterns hold now, and the large ones among them.
        public var reserved: (total: Int64, large: Int64) { held.withLock { ($0.all.total, $0.all.large) } }

        /// What a uid's patterns hold now.
        public func reserved(byUser uid: Int) -> Int64 { held.withLock { $0.byUser[uid]?.total ?? 0 } }

        /// Takes `memory` for `holder`, or says why it cannot (`quota`: the holder's own share
        /// is spent, not the daemon's budget).
        func reserve(_ memory: Int64, for holder: Holder) -> (reason: String, quota: Bool)? {
            held.withLock { ledger in
                let isLarge = memory > BoundedRegex.smallBudget
                let kind = isLarge ? "large " : ""
                switch holder {
                case .user(let uid):
                    let own = ledger.byUser[uid] ?? Held()
                    if !own.admits(memory, isLarge: isLarge, within: perUser) {
                        let share = isLarge ? perUser.large : perUser.total
                        return (
                            "uid \(uid)'s \(kind)regular expressions hold \((isLarge ? own.large : own.total) >> 10) KiB of the "
                                + "\(share >> 10) KiB one uid other than root may (this one needs \(memory >> 10) KiB): "
                                + "delete its monitors whose patterns are no longer needed, or share patterns between them", true
                        )
                    }
                    if !ledger.users.admits(memory, isLarge: isLarge, within: allUsers) {
                        return (
                            "the \(kind)regular expressions of uids other than root hold all they may together "
                                + "(\((isLarge ? allUsers.large : allUsers.total) >> 10) KiB)", false
                        )
                    }
                case .request(.root):
                    break
                case .request(let requester):
                    let own = ledger.byRequester[requester] ?? Held()
                    if !own.admits(memory, isLarge: isLarge, within: perRequester) {
                        let share = isLarge ? perRequester.large : perRequester.total
                        return (
                            "the \(kind)regular expressions of \(requester)'s requests being answered hold "
                                + "\((isLarge ? own.large : own.total) >> 10) KiB of the \(share >> 10) KiB one requester other than root may "
                                + "(this one needs \(memory >> 10) KiB): close event streams with filters, or try again", true
                        )
                    }
                    if case .address = requester, !ledger.addresses.admits(memory, isLarge: isLarge, within: addresses) {
                        return (
                            "the \(kind)regular expressions of requests over TCP without the token hold all they may together "
                                + "(\((isLarge ? addresses.large : addresses.total) >> 10) KiB): try again", false
                        )
                    }
                    if !ledger.requests.admits(memory, isLarge: isLarge, within: requests) {
                        return (
                            "the \(kind)regular expressions of requests being answered for uids other than root hold all they may together "
                                + "(\((isLarge ? requests.large : requests.total) >> 10) KiB): try again", false
                        )
                    }
                case .root:
                    break
                }
                if ledger.all.total + memory > total {
                    return (
                        "the \(total >> 20) MiB all live regular expressions may reserve is spent "
                            + "(\(ledger.all.total >> 10) KiB held, this one needs \(memory >> 10) KiB): "
                            + "delete monitors whose patterns are no longer needed, or share patterns between them", false
                    )
                }
                if isLarge && ledger.all.large + memory > large {
                    return (
                        "it needs a large compiled program (more than \(BoundedRegex.smallBudget >> 10) KiB), "
                            + "and the \(large >> 20) MiB large patterns may reserve together is spent: "
                            + "narrow its Unicode classes and repetitions, or delete monitors with large patterns", false
                    )
                }
                ledger.all.add(memory, isLarge: isLarge)
                switch holder {
                case .user(let uid):
                    ledger.users.add(memory, isLarge: isLarge)
                    ledger.byUser[uid, default: Held()].add(memory, isLarge: isLarge)
                case .request(.root), .root:
                    break
                case .request(let requester):
                    ledger.requests.add(memory, isLarge: isLarge)
                    ledger.byRequester[requester, default: Held()].add(memory, isLarge: isLarge)
                    if case .address = requester { ledger.addresses.add(memory, isLarge: isLarge) }
                }
                return nil
            }
        }

        func release(_ memory: Int64, for holder: Holder) {
            held.withLock { ledger in
                let isLarge = memory > BoundedRegex.smallBudget
                ledger.all.add(-memory, isLarge: isLarge)
                switch holder {
                case .user(let uid):
                    ledger.users.add(-memory, isLarge: isLarge)
                    ledger.byUser[uid, default: Held()].add(-memory, isLarge: isLarge)
                    if ledger.byUser[uid]?.total == 0 { ledger.byUser[uid] = nil }
                case .request(.root), .root:
                    break
                case .request(let requester):
                    ledger.requests.add(-memory, isLarge: isLarge)
                    ledger.byRequester[requester, default: Held()].add(-memory, isLarge: isLarge)
                    if ledger.byRequester[requester]?.total == 0 { ledger.byRequester[requester] = nil }
                    if case .address = requester { ledger.addresses.add(-memory, isLarge: isLarge) }
                }
            }
        }
    }
}
