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
                held.append(try BoundedRegex(Self.large(n), budget: budget))
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
        let ordinary = try BoundedRegex("^cpu:[0-9]+:usage_ratio$", budget: budget)
        #expect(ordinary.reserved == BoundedRegex.smallBudget)
        #expect(ordinary.matches("cpu:3:usage_ratio"))
        // What dies gives its reservation back.
        held.removeAll()
        #expect(budget.reserved.large == 0)
        #expect(budget.reserved.total == BoundedRegex.smallBudget)
        #expect(throws: Never.self) { try BoundedRegex(Self.large(99), budget: budget) }
    }

    @Test func allLivePatternsTogetherAreCapped() throws {
        let budget = BoundedRegex.Budget(total: 1 << 20, large: 1 << 20)
        var held: [BoundedRegex] = []
        var refusal: BoundedRegex.CompileError?
        for n in 0..<100 {
            do {
                held.append(try BoundedRegex("^app:svc\(n):[a-z_]+$", budget: budget))
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
        #expect(throws: Never.self) { try BoundedRegex("^app:again$", budget: budget) }
    }

    @Test func aWrongPatternGivesItsReservationBack() {
        let budget = BoundedRegex.Budget(total: 4 << 20, large: 2 << 20)
        for pattern in ["(unclosed", #"\pL{100}"#, "a{1001}"] {
            #expect(throws: BoundedRegex.CompileError.self) { try BoundedRegex(pattern, budget: budget) }
        }
        #expect(budget.reserved.total == 0)
        #expect(budget.reserved.large == 0)
    }
}
