import HMMFixtures
import HMMModel
import Testing

/// Inputs that used to trap hmmkit or make it allocate without bound (the bad-input issue):
/// each must now be refused with `file:line: problem`, and nothing else.
@Suite struct FixtureLimitTests {
    static let header = "hmmkit-fixture 1\nprofile linux-6.12\ndevices 0\nnodes 0\nthp never\n# steps\n"
    static let mmap4 = "mmap r0 pages=4 prot=rw kind=anon-private\n"

    /// (fixture text, line the error must name, words the message must contain)
    static let cases: [(String, Int, String)] = [
        (header + "=> ok\n", 7, "'=>' without a step"),
        (header + mmap4 + "munmap r0 9223372036854775807 1\n", 8, "first page"),
        (header + "file-create F0 pages=4\nfile-punch F0 1 9223372036854775807\n", 8, "count"),
        (header + "open f0 dev=0\n" + mmap4 + "ioctl f0 read r0 9223372036854775800 16\n", 9, "first page"),
        (header + "mmap r0 pages=1099511627776 prot=rw kind=anon-private\n", 7, "pages"),
        (header + "mmap r0 pages=268435456 prot=rw kind=anon-private\n", 7, "pages"),
        (header + "open f1000000000000 dev=0\n", 7, "f1023"),
        (header + "mmap r1000000000000 pages=4 prot=rw kind=anon-private\n", 7, "r1023"),
        (header + mmap4 + "mremap r0 0 4 to=r100000000000\n", 8, "r1023"),
        ("hmmkit-fixture 1\nprofile linux-6.12\nlocal-node 300\n# steps\n", 3, "local-node"),
        ("hmmkit-fixture 1\nprofile linux-6.12\nlocal-node -1\n# steps\n", 3, "local-node"),
        ("hmmkit-fixture 1\nprofile linux-6.12\nnodes 0\nlocal-node 1\n# steps\n", 4, "not one of the fixture's nodes"),
        (header + "file-create F0 pages=4\nmmap r0 pages=4 prot=r kind=file-private file=F0 offset=9223372036854775807\n", 8, "offset"),
        (header + "open f0 dev=9\n", 7, "dev"),
        (header + "open f0 dev=0\n" + mmap4 + "ioctl f0 read r0 0 1 misalign=99999\n", 9, "misalign"),
        (header + mmap4 + "mbind r0 0 4 node=255\n", 8, "node"),
        (header + "open f0 dev=0\n" + mmap4 + "ioctl f0 write r0 0 4 data=[0x1*9223372036854775807]\n", 9, "repeat count"),
        (header + "open f0 dev=0\n" + mmap4 + "ioctl f0 write r0 0 4 data=[0x0..0xffffffffffffffff]\n", 9, "token run"),
        ("hmmkit-fixture 1\nprofile linux-6.12\nnodes 0 0\n# steps\n", 3, "twice"),
        (header + String(repeating: "x", count: FixtureLimits.lineLength + 1) + "\n", 7, "over the limit"),
        (header + "open f0 dev=0\nmmap r0 pages=131072 prot=rw kind=anon-private\n"
            + String(repeating: "ioctl f0 write r0 0 131072 "
                + "data=[0x1*131072]\n", count: FixtureLimits.dataTokens / 131072 + 1), 41, "data= lists"),
        (header + (0...FixtureLimits.totalPages / FixtureLimits.pagesPerMapping).map { "mmap r\($0) "
            + "pages=\(FixtureLimits.pagesPerMapping) prot=rw kind=anon-private\n" }.joined(), 15, "pages"),
    ]

    @Test(arguments: cases.indices)
    func refusedWithFileAndLine(index: Int) {
        let (text, line, words) = Self.cases[index]
        do {
            _ = try Fixture.parse(text, file: "bad.fixture")
            Issue.record("case \(index) was accepted")
        } catch {
            #expect(error.file == "bad.fixture")
            #expect(error.line == line, "case \(index): \(error)")
            #expect(error.message.contains(words), "case \(index): \(error)")
        }
    }

    @Test func theLimitsStillAdmitEveryCheckedInKindOfUse() throws {
        let big = Self.header + "mmap r0 pages=\(FixtureLimits.pagesPerMapping) prot=rw kind=anon-private\n"
            + "mmap r\(FixtureLimits.largestID) pages=4 prot=rw kind=anon-private\n"
        let f = try Fixture.parse(big, file: "big.fixture")
        #expect(f.steps.count == 2)
    }
}
