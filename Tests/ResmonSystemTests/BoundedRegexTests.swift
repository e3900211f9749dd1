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
