import Testing

@testable import Monitoring

/// Monitor ids in memory (issue 17): a UUID in resmond's form in 16 bytes, anything else as text,
/// and every id reads back exactly as given.
@Suite struct CompactIDTests {
    @Test func resmondsUUIDsAreKeptInSixteenBytesAndReadBackExactly() throws {
        for _ in 0..<200 {
            let id = MonitorDefinition.randomUUID()
            let compact = CompactID(id)
            guard case .uuid = compact else {
                Issue.record("\(id) was kept as text")
                continue
            }
            #expect(compact.text == id)
        }
        #expect(CompactID("00000000-0000-0000-0000-000000000000").text == "00000000-0000-0000-0000-000000000000")
        #expect(CompactID("ffffffff-ffff-ffff-ffff-ffffffffffff").text == "ffffffff-ffff-ffff-ffff-ffffffffffff")
        #expect(MemoryLayout<CompactID>.size <= 17)
    }

    @Test(arguments: [
        "m123", "", "A0B1C2D3-0000-4000-8000-000000000000", "a0b1c2d3-0000-4000-8000-00000000000", "a0b1c2d3-0000-4000-8000-0000000000000",
        "a0b1c2d3+0000-4000-8000-000000000000", "g0b1c2d3-0000-4000-8000-000000000000", "perfmon.host.cpu_usage", "é0b1c2d3-0000-4000-8000-00000000000"
    ])
    func otherIdsStayTextExactly(id: String) {
        let compact = CompactID(id)
        if case .uuid = compact { Issue.record("\(id) was taken for a UUID") }
        #expect(compact.text == id)
    }

    @Test func theIndexFindsAnIdWhateverItsForm() {
        var index = IDIndex()
        let uuid = MonitorDefinition.randomUUID()
        index[uuid] = 1
        index["m1"] = 2
        index[uuid.uppercased()] = 3
        #expect(index[uuid] == 1)
        #expect(index["m1"] == 2)
        #expect(index[uuid.uppercased()] == 3)
        #expect(index.count == 3)
        index[uuid] = nil
        #expect(index[uuid] == nil)
        #expect(index.count == 2)
    }
}
