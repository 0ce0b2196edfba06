import HMMFixtures
import HMMKernel
import HMMModel
import HMMSystem
import Testing

@testable import HMMSuite

#if canImport(Glibc)
import Glibc
#endif

/// Replay machinery that needs no test_hmm: CPU, file, fork and mremap steps run on the
/// host kernel for real; fixtures that cannot run must fail with file and line.
@Suite struct FixtureReplayTests {
    static let cpuOnly = """
        hmmkit-fixture 1
        profile linux-6.12
        devices 0
        nodes 0
        thp never
        # steps
        file-create F0 pages=4
        file-write F0 1 0x77
        mmap r0 pages=4 prot=rw kind=file-shared file=F0 offset=0
        cpu-read r0 1
        cpu-write r0 2 0x5
        fork {
          cpu-read r0 2
          cpu-write r0 3 0x9
        }
        cpu-read r0 3
        file-punch F0 1 1
        cpu-read r0 1
        mmap r1 pages=8 prot=rw kind=anon-private
        cpu-write r1 0 0x33
        fork {
          cpu-write r1 0 0x44
          cpu-read r1 0
        }
        cpu-read r1 0
        mprotect r1 4 4 prot=r
        mremap r1 0 4 to=r2
        cpu-read r2 0
        madvise r2 0 1 dontneed
        cpu-read r2 0
        munmap r1 4 2
        """

    @Test func cpuFileAndForkStepsReplayOnTheHostKernel() throws {
        let fixture = try Fixture.parse(Self.cpuOnly, file: "cpu.fixture")
        var replayer = FixtureReplayer(generation: .v6_1)
        replayer.watchKernelLog = false
        let verdict = replayer.replay(fixture)
        guard case let .passed(steps) = verdict else {
            Issue.record("expected a pass, got \(verdict)")
            return
        }
        #expect(steps == fixture.steps.count)
    }

    @Test func observationsKeepOnlyWhatTheOutcomeSpeaksAbout() {
        let envelope = Envelope([Outcome(errno: 0, cpages: 2, faults: 1...1), .failure(22)])
        let full = Observation(errno: 0, cpages: 2, faults: 1, tokens: [1, nil], snapshot: [1], nodes: [0])
        #expect(FixtureReplayer.project(full, onto: envelope) == Observation(errno: 0, cpages: 2, faults: 1))
        #expect(FixtureReplayer.project(Observation(errno: 22, cpages: 9), onto: envelope) == Observation(errno: 22))
        #expect(FixtureReplayer.project(Observation(errno: 14, cpages: 9), onto: envelope) == Observation(errno: 14))
    }

    @Test func divergenceSignatureIgnoresPageIndices() {
        let a = Divergence(step: 3, action: .ioctl(IoctlCall(fd: 0, .migrateToDevice, PageRange(0, 0, 4))), envelope: .ok,
                           observation: nil, mismatches: [Mismatch(field: "data[2]", expected: "0x1", actual: "0x0")], event: nil)
        var b = a
        b.step = 1
        b.mismatches = [Mismatch(field: "data[0]", expected: "0x9", actual: "?")]
        #expect(a.signature == b.signature)
        #expect(a.signature == "ioctl migrate-to-dev / data")
        b.mismatches = [Mismatch(field: "cpages", expected: "4", actual: "3")]
        #expect(a.signature != b.signature)
        #expect(a.report(line: 12).first == "step 4 (line 12): ioctl f0 migrate-to-dev r0 0 4")
    }

    @Test func stepLinesSkipHeaderNotesAndComments() {
        let lines = StepLines(text: "hmmkit-fixture 1\nprofile linux-6.12\n# steps\n"
                              + "open f0 dev=0  => ok\n#: a note\n\nfork {\n  cpu-read r0 0\n}\n")
        #expect(lines.line(ofStep: 0) == 4)
        #expect(lines.line(ofStep: 1) == 7)
        #expect(lines.line(ofStep: 3) == 9)
        #expect(lines.line(ofStep: 4) == nil)
    }

    @Test func fixturesReplayUnderAnotherProfileOnlyWithTheSameExpectations() throws {
        let portable = try Fixture.parse(Self.cpuOnly, file: "cpu.fixture")
        #expect(FixtureTests.incompatibility(portable, kernel: .linux6_1) == nil)
        var newer = portable
        newer.profile = .thpMigration
        let problem = FixtureTests.incompatibility(newer, kernel: .linux6_12)
        #expect(problem?.contains("fixture is for profile thp-migration") == true)
        #expect(problem?.contains("device-thp-migration") == true)
    }

    @Test func unreadableMalformedAndImpossibleFixturesFailWithFileAndLineOtherKernelsSkip() throws {
        let dir = "/tmp/hmmkit-replay-tests-\(getpid())"
        try makeDirectory(dir)
        try createTextFile(dir + "/truncated.fixture", "hmmkit-fixture 1\nprofile linux-6.12\n# steps\nfork {\n  cpu-read r0 0\n")
        try createTextFile(dir + "/newer.fixture", "hmmkit-fixture 9\nprofile linux-6.12\n")
        try createTextFile(dir + "/unknown-op.fixture", "hmmkit-fixture 1\nprofile linux-6.12\n# steps\nteleport r0\n")
        try createTextFile(dir + "/impossible.fixture", "hmmkit-fixture 1\nprofile linux-6.12\n# steps\ncpu-read r0 0\n")
        try createTextFile(dir + "/other-profile.fixture", "hmmkit-fixture 1\nabout x\nprofile thp-migration\n# steps\nopen f0 dev=0\n")
        let paths = try FixtureTests.expand([dir]) + [dir + "/missing.fixture"]
        let tests = FixtureTests(replayer: FixtureReplayer(generation: .v6_1), kernelProfile: .linux6_12).plan(paths: paths)
        var messages: [String: String] = [:]
        var skips: [String: String] = [:]
        for planned in tests {
            #expect(planned.test.id.fixture == "replay")
            do {
                let facts = SystemFacts.gather(generation: UAPIDetection(generation: .v6_1, reason: "test"))
                try planned.test.body(TestContext(id: planned.test.id, variant: planned.variant, facts: facts, emit: { _ in }))
                Issue.record("\(planned.test.id) should fail or skip")
            } catch let skip as TestSkip {
                skips[planned.test.id.name] = skip.reason
            } catch {
                messages[planned.test.id.name] = String(describing: error)
            }
        }
        #expect(messages["truncated"]?.contains("truncated.fixture:") == true)
        #expect(messages["truncated"]?.contains("not closed") == true)
        #expect(messages["newer"]?.contains("newer.fixture:1: unsupported format version 9") == true)
        #expect(messages["unknown-op"]?.contains("unknown-op.fixture:4:") == true)
        #expect(messages["impossible"]?.contains("impossible.fixture:4: step 1 (cpu-read r0 0) is impossible") == true)
        // A fixture for other kernels is not bad input: its assumptions do not hold here.
        #expect(skips["other-profile"]?.contains("other-profile.fixture:3: fixture is for profile thp-migration") == true)
        #expect(messages["missing"]?.contains("cannot read") == true)
        #expect(messages.count == 5 && skips.count == 1)
    }

    @Test func observationWireFormatRoundTrips() {
        let samples = [Observation(), Observation(errno: 22), Observation(errno: 0, cpages: 3, faults: 1, tokens: [0, nil, 0xdead_beef]),
                       Observation(errno: 0, cpages: 2, faults: 0, snapshot: [0x0, 0x2a]), Observation(nodes: [0, -14, 1])]
        for o in samples { #expect(ObservationText.decode(ObservationText.encode(o)) == o) }
        #expect(ObservationText.decode("garbage") == nil)
        #expect(ObservationText.render(Observation(errno: 0, cpages: 2, tokens: [1, 1, nil])) == "ok cpages=2 data=[0x1*2,?]")
    }
}
