import HMMFixtures
import Testing

/// `gen` and `fuzz` take these as typed options: a value that parses is one the fixture
/// parser reads back, anything else is refused with the reason.
@Suite struct GeneratorArgumentTests {
    @Test func seedsAreNumbersAndRangesInOrder() throws {
        #expect(try SeedList(parsing: "3,1-4,9").seeds == [3, 1, 2, 3, 4, 9])
        #expect(SeedList([1, 2]).description == "1,2")
        for bad in ["x", "4-1", "1-2-3", "1-x"] {
            #expect(throws: GeneratorArgumentError.self, "\(bad)") { try SeedList(parsing: bad) }
        }
        #expect(throws: GeneratorArgumentError("'0-18446744073709551615' is more than 1000000 seeds in all")) {
            try SeedList(parsing: "0-18446744073709551615")
        }
    }

    @Test func devicesAreMinorsTheFixturesKnow() throws {
        #expect(try DeviceMinors(parsing: "0,1,2,3").minors == [0, 1, 2, 3])
        #expect(throws: GeneratorArgumentError("minors are 0...3")) { try DeviceMinors(parsing: "0,4") }
        #expect(throws: GeneratorArgumentError("'a,b' is not a comma-separated list of numbers")) { try DeviceMinors(parsing: "a,b") }
    }

    @Test func nodesAreDistinctAndWithinTheLimit() throws {
        #expect(try NodeNumbers(parsing: "0,1").nodes == [0, 1])
        #expect(NodeNumbers([0, 1]).description == "0,1")
        for bad in ["0,0", "0,20", "0,255", "-1", ""] {
            #expect(throws: GeneratorArgumentError.self, "\(bad)") { try NodeNumbers(parsing: bad) }
        }
    }
}
