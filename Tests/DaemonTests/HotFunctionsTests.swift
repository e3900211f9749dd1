import BenchSupport
import Testing

/// `make hot-functions` reads callgrind's profile format: names given once as `(n) name` and
/// then by number, cost lines under the `fn=` they belong to, a call's inclusive cost on the
/// line after `calls=`.
@Suite struct HotFunctionsTests {
    @Test func aProfileGivesTheObjectsFunctionsCostliestFirst() {
        let profile = """
            # callgrind format
            events: Ir
            ob=(1) /tmp/x/resmond
            fl=(1) ???
            fn=(1) $sHot
            0 500
            +2 300
            cob=(2) /usr/lib/libc.so.6
            cfn=(2) memcpy
            calls=4 0
            0 99999
            fn=(3) $sWarm
            0 20
            fn=(4) $sRecursive'2
            0 10
            fn=(5) $sRecursive
            0 15
            fn=(6) $sNeverRan
            0 0
            ob=(2)
            fn=(2)
            0 123456
            ob=(1)
            fn=(1)
            0 1
            """
        let names = hotFunctions(inCallgrindProfile: profile, object: "/tmp/x/resmond")
        // memcpy is libc's; the call's 99,999 belongs to memcpy, not to $sHot; $sRecursive'2 is $sRecursive.
        #expect(names == ["$sHot", "$sRecursive", "$sWarm"])
    }
}
