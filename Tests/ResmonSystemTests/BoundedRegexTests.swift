import ResmonSystem
import Testing

/// The regular-expression engine readers' patterns meet (issue 22, D2): glibc's regcomp took
/// 59 s of CPU for a backreference pattern and 550 MB for `a{1,32767}`.
@Suite struct BoundedRegexEngineTests {
    static func refusal(_ pattern: String) -> String? {
        do {
            _ = try BoundedRegex(pattern)
            return nil
        } catch {
            return error.description
        }
    }

    @Test(arguments: [
        #"(.*)(.*)(.*)(.*)(.*)\5\4\3\2\1x"#,  // backreferences: exponential in a backtracking search
        "a{1,32767}",  // glibc built its automaton for every count: 550 MB
        "a{1001}",  // RE2's bound on one repetition count is 1000
        "((a{1000}){1000}){1000}",  // nested counts multiply
        #"\pL{100}"#,  // 100 copies of every letter in Unicode: more than the memory budget
        "(?=x)x", "(?!x)y", "(?<=a)b",  // no lookaround
        "(unclosed", "[z-a]", #"\y"#
    ])
    func patternsWithoutBoundsAreRefusedWithAReason(pattern: String) {
        let refusal = Self.refusal(pattern)
        #expect(refusal?.hasPrefix("invalid regular expression") == true, "\(pattern) compiled")
    }

    @Test func aPatternIsBoundedInLength() throws {
        let longest = String(repeating: "a", count: BoundedRegex.maximumPatternBytes)
        #expect(try BoundedRegex(longest).matches("x" + longest))
        let refusal = try #require(Self.refusal(longest + "a"))
        #expect(refusal.contains("longer than 1024 bytes (1025)"))
        // The message shows the start of the pattern only.
        #expect(refusal.utf8.count < 200)
    }

    @Test func aLargeButLegalPatternCompilesWithinItsBudget() throws {
        // 1000 classes of 62 characters: a big program, within 1 MiB.
        let regex = try BoundedRegex("^[A-Za-z0-9]{1000}$")
        #expect(regex.matches(String(repeating: "Az9", count: 333) + "q"))
        #expect(!regex.matches(String(repeating: "Az9", count: 333)))
    }

    @Test func matchingIsLinearSoPathologicalPatternsAnswer() throws {
        // Exponential for a backtracking engine (perfmon's Python re): RE2 answers in one pass.
        let nested = try BoundedRegex("^(a+)+$")
        #expect(!nested.matches(String(repeating: "a", count: 100_000) + "!"))
        let alternatives = try BoundedRegex("(.*)(.*)(.*)(.*)(.*)x")
        #expect(!alternatives.matches(String(repeating: "y", count: 100_000)))
        #expect(alternatives.matches(String(repeating: "y", count: 100_000) + "x"))
    }

    @Test func theDialectKeepsWhatPOSIXAndPythonPatternsUse() throws {
        func matches(_ pattern: String, _ text: String) throws -> Bool { try BoundedRegex(pattern).matches(text) }
        // POSIX ERE: searched anywhere, anchors, bracket classes, intervals, alternation.
        #expect(try matches("cpu[0-9]+", "cpu:cpu12:usage_ratio"))
        #expect(try !matches("^cpu[0-9]+", "cpu:cpu12:usage_ratio"))
        #expect(try matches("^fs:.*ratio$", "fs:/home:used_ratio"))
        #expect(try matches("[[:digit:]]{2}", "cpu12"))
        #expect(try matches("^(rx|tx)_[a-z]{2,5}$", "rx_bytes"))
        // Python re (perfmon's rrd_regex): \d \w \s, (?i), non-greedy, named groups.
        #expect(try matches(#"pif_eth\d+_[rt]x"#, "pif_eth0_rx"))
        #expect(try matches(#"^\w+\s\w+$"#, "disk full"))
        #expect(try matches("(?i)^CPU", "cpu0"))
        #expect(try !matches("^CPU", "cpu0"))
        #expect(try matches("a.*?b", "axxb"))
        #expect(try matches("(?P<unit>[a-z]+)_total", "bytes_total"))
        // `.` matches a newline, as glibc's did: an event message may hold one.
        #expect(try matches("disk.*full", "disk sda\nis full"))
        // Escaped punctuation is literal.
        #expect(try matches(#"^fs:\/home\:"#, "fs:/home:used_ratio"))
        #expect(try !matches(#"a\.b"#, "axb"))
        // A NUL in a pattern is a character, not its end.
        #expect(try !matches("a\u{0}b", "a"))
    }
}

/// What all live patterns reserve together is bounded (issue 22, re-attack): 1,000 aggregates
/// over distinct Unicode-class patterns took RSS from 25 to 479 MB and 50 s to compile.
/// Each test has a budget of its own, so tests running beside it keep the daemon's.
@Suite struct RegexBudgetTests {
    /// A pattern that needs a large program (tens of thousands of instructions), made distinct by `n`.
    static func large(_ n: Int) -> String { #"[\p{Any}]{1,30}\pL{45}zN"# + String(n) }

    @Test func largePatternsAreCappedWhileOrdinaryOnesStillCompile() throws {
        let budget = BoundedRegex.Budget(total: 32 << 20, large: 4 << 20)
        var held: [BoundedRegex] = []
        var refusal: BoundedRegex.CompileError?
        for n in 0..<50 {
            do {
                held.append(try BoundedRegex(Self.large(n), holder: .root, budget: budget))
            } catch {
                refusal = error
                break
            }
        }
        // Four fit in 4 MiB at 1 MiB each; the fifth is refused as a spent budget, not as wrong.
        #expect(held.count == 4)
        #expect(held.allSatisfy { $0.reserved == BoundedRegex.memoryBudget })
        let refused = try #require(refusal)
        #expect(refused.budgetSpent)
        #expect(refused.description.contains("large patterns may reserve together is spent"))
        #expect(budget.reserved.large == 4 << 20)
        // Ordinary patterns take the small budget and still compile.
        let ordinary = try BoundedRegex("^cpu:[0-9]+:usage_ratio$", holder: .root, budget: budget)
        #expect(ordinary.reserved == BoundedRegex.smallBudget)
        #expect(ordinary.matches("cpu:3:usage_ratio"))
        // What dies gives its reservation back.
        held.removeAll()
        #expect(budget.reserved.large == 0)
        #expect(budget.reserved.total == BoundedRegex.smallBudget)
        #expect(throws: Never.self) { try BoundedRegex(Self.large(99), holder: .root, budget: budget) }
    }

    @Test func allLivePatternsTogetherAreCapped() throws {
        let budget = BoundedRegex.Budget(total: 1 << 20, large: 1 << 20)
        var held: [BoundedRegex] = []
        var refusal: BoundedRegex.CompileError?
        for n in 0..<100 {
            do {
                held.append(try BoundedRegex("^app:svc\(n):[a-z_]+$", holder: .root, budget: budget))
            } catch {
                refusal = error
                break
            }
        }
        #expect(held.count == Int((1 << 20) / BoundedRegex.smallBudget))
        let refused = try #require(refusal)
        #expect(refused.budgetSpent)
        #expect(refused.description.hasPrefix("regular expression"))
        #expect(refused.description.contains("all live regular expressions may reserve is spent"))
        held.removeLast()
        #expect(throws: Never.self) { try BoundedRegex("^app:again$", holder: .root, budget: budget) }
    }

    @Test func aWrongPatternGivesItsReservationBack() {
        let budget = BoundedRegex.Budget(total: 4 << 20, large: 2 << 20)
        for pattern in ["(unclosed", #"\pL{100}"#, "a{1001}"] {
            #expect(throws: BoundedRegex.CompileError.self) { try BoundedRegex(pattern, budget: budget) }
        }
        #expect(budget.reserved.total == 0)
        #expect(budget.reserved.large == 0)
    }

    @Test func oneUserCannotSpendWhatRootAndTheOthersNeed() throws {
        // Third attack: one ordinary user filled all 32 MiB with 508 aggregates, and root's
        // creates, monitors.d and every reader's query were refused.
        let budget = BoundedRegex.Budget(total: 32 << 20, large: 8 << 20)
        var held: [BoundedRegex] = []
        var refusal: BoundedRegex.CompileError?
        for n in 0..<200 {
            do {
                held.append(try BoundedRegex("^app:nf:\(n)$", holder: .user(65534), budget: budget))
            } catch {
                refusal = error
                break
            }
        }
        // 4 MiB at 64 KiB each: 64 patterns, then the uid's own quota (429), not the daemon's.
        #expect(held.count == 64)
        let refused = try #require(refusal)
        #expect(refused.budgetSpent && refused.quota)
        #expect(refused.description.contains("uid 65534's regular expressions hold 4096 KiB"))
        #expect(budget.reserved(byUser: 65534) == 4 << 20)
        // Root, another uid and a request still compile.
        #expect(throws: Never.self) { try BoundedRegex("^app:root$", holder: .root, budget: budget) }
        #expect(throws: Never.self) { try BoundedRegex("^app:other$", holder: .user(1000), budget: budget) }
        #expect(throws: Never.self) { try BoundedRegex("cpu", holder: .request(.user(4000)), budget: budget) }
        // Two large patterns per uid.
        #expect(throws: Never.self) { try BoundedRegex(RegexBudgetTests.large(1), holder: .user(1000), budget: budget) }
        held.append(try BoundedRegex(RegexBudgetTests.large(2), holder: .user(1001), budget: budget))
        held.append(try BoundedRegex(RegexBudgetTests.large(3), holder: .user(1001), budget: budget))
        #expect(throws: BoundedRegex.CompileError.self) { try BoundedRegex(RegexBudgetTests.large(4), holder: .user(1001), budget: budget) }
        held.removeAll()
        #expect(budget.reserved(byUser: 65534) == 0)
        #expect(budget.reserved.total == 0)
    }

    @Test func usersTogetherAndRequestsHaveSharesToo() throws {
        let budget = BoundedRegex.Budget(total: 32 << 20, large: 8 << 20)
        var held: [BoundedRegex] = []
        // Five uids at their 4 MiB: the fourth fills what all uids may hold (16 MiB) …
        var refusal: BoundedRegex.CompileError?
        outer: for uid in 2000..<2005 {
            for n in 0..<64 {
                do {
                    held.append(try BoundedRegex("^u\(uid):\(n)$", holder: .user(uid), budget: budget))
                } catch {
                    refusal = error
                    break outer
                }
            }
        }
        #expect(held.count == 256)
        let refused = try #require(refusal)
        #expect(refused.budgetSpent && !refused.quota)
        #expect(refused.description.contains("uids other than root hold all they may together"))
        // … and requests have their own 8 MiB (2 MiB a requester), root the rest.
        for n in 0..<128 { held.append(try BoundedRegex("^q\(n)$", holder: .request(.user(4000 + n / 32)), budget: budget)) }
        #expect(throws: BoundedRegex.CompileError.self) { try BoundedRegex("^q-over$", holder: .request(.user(4010)), budget: budget) }
        for n in 0..<128 { held.append(try BoundedRegex("^r\(n)$", holder: .root, budget: budget)) }
        #expect(budget.reserved.total == 32 << 20)
    }

    @Test func sharedPatternsAreSharedWithinAHolderOnly() throws {
        let a = try BoundedRegex.shared("^shared-within:x$", holder: .user(3000))
        let b = try BoundedRegex.shared("^shared-within:x$", holder: .user(3000))
        let c = try BoundedRegex.shared("^shared-within:x$", holder: .user(3001))
        #expect(a === b)
        #expect(a !== c)
    }

    /// Issue 22, fourth attack: eight event streams with sixteen patterns each, from one uid or
    /// from TCP without the token, held all requests' 8 MiB, and root's queries got 503.
    @Test func eachRequesterHasAShareAndRootsRequestsAreBoundedByTheTotalOnly() throws {
        let budget = BoundedRegex.Budget(total: 32 << 20, large: 8 << 20)
        var held: [BoundedRegex] = []
        func fill(_ requester: Requester, _ tag: String) -> BoundedRegex.CompileError? {
            for n in 0..<200 {
                do {
                    held.append(try BoundedRegex("^\(tag)\(n)$", holder: .request(requester), budget: budget))
                } catch {
                    return error
                }
            }
            return nil
        }
        // One uid: 2 MiB, 32 ordinary patterns, then its own quota (429).
        let uid = try #require(fill(.user(65534), "nb"))
        #expect(uid.budgetSpent && uid.quota, "\(uid)")
        #expect(uid.description.contains("uid 65534's requests"), "\(uid)")
        #expect(held.count == 32)
        // TCP addresses: 2 MiB each, 4 MiB together (503 for the third address, not its quota).
        #expect(fill(.address("127.0.0.1"), "a")?.quota == true)
        #expect(fill(.address("127.0.0.2"), "b")?.quota == true)
        let third = try #require(fill(.address("127.0.0.3"), "c"))
        #expect(third.budgetSpent && !third.quota && third.description.contains("over TCP without the token"), "\(third)")
        // Another uid still gets its share; then requests other than root's hold their 8 MiB, and
        // root's are refused by nothing but the total.
        #expect(fill(.user(1000), "u")?.quota == true)
        let full = try #require(fill(.user(1001), "v"))
        #expect(full.budgetSpent && !full.quota, "\(full)")
        for n in 0..<300 { held.append(try BoundedRegex("^root\(n)$", holder: .request(.root), budget: budget)) }
        held.removeAll()
        #expect(budget.reserved.total == 0)
    }
}
