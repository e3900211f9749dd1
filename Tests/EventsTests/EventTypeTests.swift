import Events
import Testing

@Suite struct EventTypeTests {
    @Test(arguments: EventType.allCases)
    func aTypeKnowsWhetherItRaisesAndIsFoundByItsName(type: EventType) {
        let raises: Set<EventType> = [.above, .atOrAbove, .at, .atOrBelow, .below, .notAtBelow, .notAtAbove, .counterRateExceeded, .watermark, .noData]
        #expect(type.isRaise == raises.contains(type))
        #expect(EventType(name: type.name) == type)
    }

    @Test func anUnknownNameIsNoType() {
        #expect(EventType(name: "frobnicated") == nil)
    }
}
