import ResmonAPI
import Testing

@testable import Events

/// A sink's queues per uid (issue 22, fourth attack): served in turn, bounded, and the cursor
/// a restart resumes from never passes an event still waiting.
@Suite struct SinkQueuesTests {
    static func event(_ id: Int64) -> EventRecord {
        EventRecord(
            id: id, time: Double(id), code: 501, type: EventType(rawValue: "above"), severity: Severity(rawValue: "warning"),
            monitorId: "m\(id)", monitorName: nil, key: nil, value: nil, threshold: nil, host: "vm", message: "", cancels: nil,
            labels: [:], annotations: [:])
    }

    @Test func rootsEventIsNextButOneBehindAnotherUidsBacklog() {
        var queues = SinkQueues(after: 0)
        for id in 1...500 { queues.add(Self.event(Int64(id)), id: Int64(id), owner: 65534) }
        queues.add(Self.event(501), id: 501, owner: 0)
        queues.add(Self.event(502), id: 502, owner: 1000)
        var order: [Int] = []
        while let (owner, _) = queues.next, order.count < 6 {
            order.append(owner)
            queues.removeNext()
        }
        #expect(order == [65534, 0, 1000, 65534, 65534, 65534])
        // The cursor stays before nobody's oldest waiting event; all read is 502.
        #expect(queues.cursor == 4)
        #expect(queues.read == 502)
    }

    @Test func aUidsBacklogIsBoundedAndWhatIsDroppedIsCounted() {
        var queues = SinkQueues(after: 0)
        var kept = 0
        for id in 1...1500 where queues.add(Self.event(Int64(id)), id: Int64(id), owner: 65534) { kept += 1 }
        #expect(kept == SinkQueues.perOwner)
        #expect(queues.dropped[65534] == 500)
        // Root's are never dropped; it is read ahead a page at a time.
        for id in 1501...1700 {
            let added = queues.add(Self.event(Int64(id)), id: Int64(id), owner: 0)
            #expect(added)
        }
        #expect(!queues.wantsMore)
        // A filtered-out event moves the read position only.
        var empty = SinkQueues(after: 10)
        empty.add(nil, id: 11, owner: 0)
        #expect(empty.isEmpty && empty.cursor == 11)
    }
}
