import HMMFixtures
import HMMKernel
import HMMModel
import HMMSystem
import Testing

@testable import HMMSuite

#if canImport(Glibc)
import Glibc
#endif

/// The model-checked process behind the kselftest-named tests, on the host kernel (CPU,
/// fork and mapping steps need no test_hmm): a correct run passes, and data the model
/// did not predict fails the step that saw it.
@Suite struct CheckedProcessTests {
    final class Log: @unchecked Sendable { var lines: [String] = [] }

    static func context(_ log: Log) -> TestContext {
        TestContext(id: TestID(fixture: "hmm", variant: "hmm_device_private", name: "host"), variant: .hmmPrivate,
                    facts: SystemFacts.gather()) { log.lines.append($0) }
    }

    /// Each test runs with the model on its own thread and on the test's (TCG VMs).
    static let modelThreads = [false, true]

    /// A checked process whose one region of `pages` pages the CPU has written, then one int
    /// of `page` changed behind the model's back. Reproducers go to a directory of `name`'s.
    static func corrupted(page: Int, of pages: Int, inline: Bool, _ log: Log, name: String) throws
        -> (TestContext, CheckedProcess, RegionID) {
        let context = Self.context(log)
        let p = try CheckedProcess(context, modelInline: inline)
        p.reproducerDirectory = "/tmp/hmmkit-checked-\(name)-\(getpid())-\(inline)"
        let r = try p.mmap(pages: pages)
        try p.cpuWrite(r, 0..<pages)
        VirtualMemory.store(at: p.address(r, page: page) + 40, bytes: 4) { $0.storeBytes(of: Int32(-7), as: Int32.self) }
        return (context, p, r)
    }

    @Test(arguments: [HMMModel.MappingKind.anonPrivate, .anonShared], modelThreads)
    func forkedChildAndParentFollowTheModel(kind: HMMModel.MappingKind, inline: Bool) throws {
        let log = Log()
        let context = Self.context(log)
        let p = try CheckedProcess(context, modelInline: inline)
        let r = try p.mmap(pages: 8, kind: kind)
        try p.cpuWrite(r, 0..<8)
        let minusOne = p.pattern(0..<1, stride: -1)[0]
        try p.fork((0..<8).map { .cpuRead(r, page: $0) } + [.cpuWrite(r, page: 0, token: minusOne), .cpuRead(r, page: 0)])
        // Private: the parent kept its copy; shared: it sees the child's write. The model
        // says which; the kernel must agree.
        try p.cpuRead(r, 0..<8)
        try p.cpuIncrement(r, 2..<4)
        try p.cpuRead(r, 0..<8)
        try p.munmap(r, 0..<8)
        try context.runEndChecks()  // the model's thread agreed with every answer
        #expect(!log.lines.contains { $0.contains("divergence") })
    }

    /// The child's answers reach the model as they arrive, several lines of them here; one
    /// outside the envelope fails the test, named as the child's.
    @Test(arguments: modelThreads)
    func aChildsAnswerTheModelDidNotPredictFailsTheTest(inline: Bool) throws {
        let log = Log()
        let (context, p, r) = try Self.corrupted(page: 5, of: 8, inline: inline, log, name: "child")
        // The child reads page 5 in its third line of answers (CheckedProcess.answersPerLine is 256).
        let reads = (0..<80).flatMap { _ in (0..<8).map { Action.cpuRead(r, page: $0) } }
        // The model's own thread may not have reached page 5 by the child's exit; checked
        // inline, it has.
        do {
            try p.fork(reads)
            if inline { Issue.record("the parent went on past the child's exit after a divergence") }
        } catch let failure as TestFailure {
            #expect(failure.message.contains("divergence"))
        }
        do {
            try context.runEndChecks()
            Issue.record("a child's corrupted page passed the model check")
        } catch let failure as TestFailure {
            #expect(failure.message.contains("cpu-read r0 5"))
            #expect(log.lines.contains { $0.contains("(in the forked child)") })
        }
    }

    @Test(arguments: modelThreads)
    func dataTheModelDidNotPredictFailsTheStep(inline: Bool) throws {
        let log = Log()
        let (context, p, r) = try Self.corrupted(page: 2, of: 4, inline: inline, log, name: "parent")
        // The check trails the kernel: the verdict comes at the end (the reads may already
        // stop once the model's thread has seen page 2).
        _ = try? p.cpuRead(r, 0..<4)
        do {
            try context.runEndChecks()
            Issue.record("a corrupted page passed the model check")
        } catch let failure as TestFailure {
            #expect(failure.message.contains("cpu-read r0 2"))
            #expect(log.lines.contains { $0.contains("model allows") })
        }
        // The steps up to the failing one are saved as a replayable fixture.
        let saved = try #require(log.lines.first { $0.hasPrefix("reproducer: ") }).dropFirst(12).prefix { $0 != " " }
        let fixture = try Fixture.parse(readTextFile(String(saved)), file: String(saved))
        #expect(fixture.data == .intRuns)
        #expect(fixture.steps.count == 8)  // mmap, 4 writes, reads of pages 0-2
        #expect(fixture.text.contains("data int-runs"))
    }

    @Test func intRunsRoundTripAndRejectOtherData() {
        for run in [IntRun(start: 0, stride: 1), IntRun(start: -4096, stride: -1), IntRun(start: Int32.max, stride: 1),
                    IntRun(start: 7, stride: 0), IntRun(start: 3, stride: (1 << 30) - 1), IntRun(start: 3, stride: -(1 << 30))] {
            #expect(IntRun(token: run.token) == run)
            var page = [UInt8](repeating: 0, count: 4096)
            page.withUnsafeMutableBytes { IntRun.fill($0, token: run.token) }
            #expect(page.withUnsafeBytes { IntRun.decode($0) } == run.token)
            page[4000] ^= 1
            #expect(page.withUnsafeBytes { IntRun.decode($0) } == nil)
        }
        #expect(IntRun(start: 0, stride: 0).token == 0)
        #expect([UInt8](repeating: 0, count: 4096).withUnsafeBytes { IntRun.decode($0) } == 0)
        #expect([UInt8](repeating: 0, count: 4).withUnsafeBytes { IntRun.decode($0) } == nil, "one int names no run")
        #expect(IntRun(token: 0x1234) == nil)  // no run tag: a fixture token, not a run
        // hmm-tests' ptr[i] = i: page 1 starts at the page's first int index.
        #expect(IntRun.page(1, offset: 0, stride: 1, intsPerPage: 1024) == IntRun(start: 1024, stride: 1))
        #expect(IntRun.page(2, offset: 5, stride: -1, intsPerPage: 1024) == IntRun(start: 5 - 2048, stride: -1))
    }
}

@Suite struct IntRunDecodeTests {
    /// decode reads two ints per load, four loads per pass, then the ints left over: a
    /// changed int is found wherever it lies, on pages whose length is no multiple of a pass.
    /// (Two ints always make a run: the first two define it.)
    @Test(arguments: [12, 28, 32, 36, 60, 4096, 4096 + 20])
    func aChangeInAnyIntIsFound(bytes: Int) {
        // The wrap inside the page exercises both halves of a 64-bit word separately.
        for run in [IntRun(start: 0, stride: 1), IntRun(start: -2, stride: 1), IntRun(start: Int32.max - 3, stride: 3),
                    IntRun(start: 9, stride: -7), IntRun(start: 5, stride: 0)] {
            var page = [UInt8](repeating: 0, count: bytes)
            page.withUnsafeMutableBytes { run.write(into: $0) }
            #expect(page.withUnsafeBytes { IntRun.decode($0) } == run.token)
            for int in 0..<(bytes / 4) {
                for bit in [0, 31] {
                    page[int * 4 + bit / 8] ^= UInt8(1 << (bit % 8))
                    #expect(page.withUnsafeBytes { IntRun.decode($0) } == nil, "int \(int) bit \(bit) of \(bytes) bytes, \(run)")
                    page[int * 4 + bit / 8] ^= UInt8(1 << (bit % 8))
                }
            }
        }
    }

    @Test func bytesPastTheLastWholeIntAreNotRead() {
        var page = [UInt8](repeating: 0xFF, count: 4096 + 3)
        page.withUnsafeMutableBytes { IntRun(start: 1, stride: 1).write(into: $0) }
        #expect(page.suffix(3) == [0xFF, 0xFF, 0xFF])
        #expect(page.withUnsafeBytes { IntRun.decode($0) } == IntRun(start: 1, stride: 1).token)
    }
}

@Suite struct MigrationBenchmarkFigureTests {
    @Test func ratesAndMemcpyFractionComeFromTheMedians() {
        var figure = MigrationBenchmark.Figure(benchmarkCase: .init(device: .deviceCoherent, backing: .transparentHugePages,
                                                                    mebibytes: 256, direction: .toSystem))
        figure.seconds = [0.5, 0.25, 0.3]
        figure.memcpySeconds = [0.1, 0.125, 0.2]
        #expect(figure.benchmarkCase.name == "bench.migrate.coherent.thp.256MiB.to-system")
        #expect(figure.medianSeconds == 0.3)
        #expect(abs(figure.gibibytesPerSecond! - 0.25 / 0.3) < 1e-9)
        #expect(abs(figure.fractionOfMemcpy! - 0.125 / 0.3) < 1e-9)
        #expect(median([]) == nil)
        #expect(median([4, 1, 3, 2]) == 2.5)
    }
}
