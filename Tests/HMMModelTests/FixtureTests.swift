import HMMFixtures
import HMMModel
import HMMUAPI
import Testing

@Suite struct FixtureTests {
    static let sample = """
    hmmkit-fixture 1
    seed 42
    profile linux-6.12
    devices 0 1
    nodes 0
    local-node 0
    thp never
    # steps
    open f0 dev=0
    mmap r0 pages=4 prot=rw kind=anon-private
    cpu-write r0 1 0x10
    ioctl f0 migrate-to-dev r0 0 4
    ioctl f0 write r0 0 2 data=[0x5..0x6]
    fork {
      open f0 dev=1
      cpu-read r0 1
      ioctl f0 snapshot r0 0 4
    }
    ioctl f0 read r0 0 4
    """

    @Test func parseDeriveWriteRoundTrip() throws {
        let f = try Fixture.parse(Self.sample, file: "sample.fixture")
        #expect(f.seed == 42 && f.profile == .linux6_12 && f.steps.count == 11)
        let d = f.derived()
        #expect(d.steps[3].expectation == "ok cpages=4 faults=0 data=[0x0,0x10,0x0*2]")
        let text = d.text
        let back = try Fixture.parse(text, file: "round")
        #expect(back == d)
        #expect(back.text == text)
        #expect(text.contains("\n  cpu-read r0 1  => ok data=[0x6]\n"))
        // The parent READs its own device-private pages after fork invalidated its mirror.
        #expect(d.steps.last?.notes.first?.hasPrefix("HAZARD") == true)
    }

    @Test func parserErrorsNameFileAndLine() {
        func err(_ text: String, expected: KernelProfile? = nil) -> FixtureError? {
            do { _ = try Fixture.parse(text, file: "t.fx", expectedProfile: expected); return nil } catch { return error }
        }
        #expect(err("")?.line == 1)
        #expect(err("hello")?.message.contains("not an hmmkit fixture") == true)
        let v = err("hmmkit-fixture 2\nprofile linux-6.12\n")
        #expect(v?.line == 1 && v?.message.contains("unsupported format version 2") == true)
        let unknown = err("hmmkit-fixture 1\nprofile linux-6.12\nopen f0 dev=0\nfrobnicate r0\n")
        #expect(unknown?.line == 4 && unknown?.file == "t.fx" && unknown?.message == "unknown operation 'frobnicate'")
        #expect(err("hmmkit-fixture 1\nprofile linux-9\n")?.message.contains("unknown profile") == true)
        let mismatch = err("hmmkit-fixture 1\nprofile linux-6.12\n", expected: .linux6_1)
        #expect(mismatch?.line == 2 && mismatch?.message.contains("kernel under test is linux-6.1") == true)
        let trunc = err("hmmkit-fixture 1\nprofile linux-6.12\nfork {\n  cpu-read r0 0\n")
        #expect(trunc?.message.contains("truncated: fork block opened at line 3") == true)
        #expect(err("hmmkit-fixture 1\nprofile linux-6.12\nioctl f0 read r0 0\n")?.message.contains("truncated 'ioctl'") == true)
        #expect(err("hmmkit-fixture 1\nprofile linux-6.12\nioctl f0 zap r0 0 1\n")?.message.contains("unknown ioctl 'zap'") == true)
        #expect(err("hmmkit-fixture 1\nprofile linux-6.12\nopen f0 dev=0\nthp never\n")?.line == 4)
        #expect(err("hmmkit-fixture 1\nopen f0 dev=0\n")?.message.contains("missing 'profile'") == true)
        #expect(err("hmmkit-fixture 1\nprofile linux-6.12\nioctl f0 write r0 0 2 "
            + "data=[0x1]\n")?.message.contains("1 tokens for 2 pages") == true)
        #expect(FixtureError(file: "a", line: 3, message: "m").description == "a:3: m")
    }

    @Test func generatorIsDeterministic() {
        var a = FixtureGenerator(seed: 7, profile: .linux6_12, environment: Environment(devices: [0, 1, 2, 3], nodes: [0, 1]))
        var b = FixtureGenerator(seed: 7, profile: .linux6_12, environment: Environment(devices: [0, 1, 2, 3], nodes: [0, 1]))
        for _ in 0..<20 {
            let x = a.generate(steps: 60)
            let y = b.generate(steps: 60)
            #expect(x.text == y.text)
            #expect(x.firstViolation() == nil)
            // The recorded seed regenerates the fixture.
            var c = FixtureGenerator(seed: x.seed!, profile: .linux6_12, environment: x.environment)
            #expect(c.generate(steps: 60).text == x.text)
            // The text parses back and the model re-derives the same expectations.
            let parsed = try? Fixture.parse(x.text)
            #expect(parsed == x)
            #expect(x.derived() == x)
        }
        var other = FixtureGenerator(seed: 8, profile: .linux6_12)
        #expect(other.generate(steps: 60).text != FixtureGenerator(seed: 7, profile: .linux6_12).generateFirst(60))
    }

    @Test func generatorCoversInterestingStates() {
        var g = FixtureGenerator(seed: 1, profile: .linux6_12, environment: Environment(devices: [0, 1], nodes: [0, 1]))
        var seen = Set<String>()
        for _ in 0..<200 {
            for st in g.generate(steps: 50).steps {
                switch st.action {
                case .fork: seen.insert("fork")
                case let .ioctl(c): seen.insert(c.command.rawValue)
                case .mprotect: seen.insert("mprotect")
                case .munmap: seen.insert("munmap")
                case .mremap: seen.insert("mremap")
                case .mbind, .movePages, .queryNodes: seen.insert("numa")
                case .madvise: seen.insert("madvise")
                default: break
                }
            }
        }
        for k in ["fork", "migrateToDevice", "exclusive", "snapshot", "mprotect", "munmap", "mremap", "numa", "madvise", "release"] {
            #expect(seen.contains(k), "generator never produced \(k)")
        }
    }

    @Test func shrinkerReducesSyntheticFailure() {
        // Synthetic bug: "a snapshot of a page on device 0 returns the wrong byte". The
        // predicate holds when some snapshot's expectation shows 0x22 (own private page).
        var g = FixtureGenerator(seed: 3, profile: .linux6_12, environment: Environment(devices: [0, 1]))
        let fails: (Fixture) -> Bool = { f in
            f.steps.contains { st in
                if case let .ioctl(c) = st.action, c.command == .snapshot { return st.expectation?.contains("22") == true }
                return false
            }
        }
        var failing: Fixture?
        for _ in 0..<100 {
            let f = g.generate(steps: 60)
            if fails(f) { failing = f; break }
        }
        guard let failing else { Issue.record("no failing fixture generated"); return }
        var s = Shrinker(predicate: fails)
        let small = s.shrink(failing)
        #expect(fails(small))
        #expect(small.firstViolation() == nil)
        // Minimal: open, mmap, migrate, snapshot (4 steps), with one-page ranges.
        #expect(small.steps.count == 4, "\(small.text)")
        #expect(small.steps.count < failing.steps.count)
    }

    @Test func emitterProducesHarnessTest() throws {
        let f = try Fixture.parse(Self.sample).derived()
        let c = CSelftestEmitter(testName: "sample").emit(f)
        #expect(c.contains("TEST_F(hmmkit, sample)"))
        #expect(c.contains("#include <lib/test_hmm_uapi.h>"))
        #expect(c.contains("0xc0284802UL"))
        #expect(c.contains("TEST_HARNESS_MAIN"))
    }

    @Test func benchmarkSmoke() {
        let b = ModelBenchmark.run(simpleSteps: 10_000, sequences: 5, length: 20, largePages: 4096)
        #expect(b.stepsPerSecond > 0 && b.bytesFor262144Pages > 0 && b.generateAndCheckSeconds >= 0)
    }
}

extension FixtureGenerator {
    func generateFirst(_ n: Int) -> String {
        var g = self
        return g.generate(steps: n).text
    }
}

/// Many generated fixtures across environments: no model traps, text round trips, and
/// the replay through `apply`/`commit(primary)` reports no mismatches.
@Suite struct GeneratorStress {
    @Test(arguments: [
        (KernelProfile.linux6_12, Environment(devices: [0, 1, 2, 3], nodes: [0, 1], localNode: nil, thp: .always)),
        (KernelProfile.linux6_1, Environment(devices: [0, 1], nodes: [0], thp: .madvise)),
        (KernelProfile.thpMigration, Environment(devices: [0, 2], nodes: [0, 1], thp: .always)),
    ])
    func stress(profile: KernelProfile, environment: Environment) throws {
        var g = FixtureGenerator(seed: 99, profile: profile, environment: environment)
        g.allowHazards = true
        for _ in 0..<150 {
            let f = g.generate(steps: 50)
            #expect(try Fixture.parse(f.text) == f)
            var m = f.makeModel()
            for (i, st) in f.steps.enumerated() {
                if m.violation(of: st.action) != nil { break }  // an alternative branch changed the state
                let e = m.apply(st.action)
                // Odd steps take the last alternative the envelope allows (outcome and values).
                let obs = i % 2 == 1 ? Self.lastAlternative(e) : e.primaryObservation
                let bad = m.commit(obs)
                #expect(bad.isEmpty, "\(bad)")
                // Every alternative outcome is itself inside the envelope.
                for o in e.outcomes.dropFirst() {
                    var alt = Envelope([o])
                    alt.notes = []
                    #expect(e.check(alt.primaryObservation).isEmpty)
                }
            }
        }
    }

    static func lastAlternative(_ e: Envelope) -> Observation {
        let o = e.outcomes.last!
        func last<T>(_ v: PageValues<T>?) -> [T]? { v.map { pv in (0..<pv.count).map { pv.allowed(at: $0).last! } } }
        return Observation(errno: o.errno, cpages: o.cpages, faults: o.faults?.upperBound,
                           tokens: last(o.tokens)?.map { Optional($0) }, snapshot: last(o.snapshot), nodes: last(o.nodes))
    }
}

@Suite struct ReplayTests {
    @Test func replayRecordsMismatchesAndFollowsKernel() throws {
        let f = try Fixture.parse(FixtureTests.sample)
        var r = Replay(f)
        var n = 0
        while let (step, env) = r.next() {
            var obs = env.primaryObservation
            if case let .ioctl(c) = step.action, c.command == .migrateToDevice { obs.cpages = 3 }
            _ = r.record(obs)
            n += 1
        }
        #expect(n == f.steps.count && r.isFinished)
        #expect(r.mismatches.count == 1 && r.mismatches[0].step == 3 && r.mismatches[0].mismatch.field == "cpages")
    }
}

/// The `data` header: which bytes stand for a token on the kernel.
@Suite struct FixtureDataHeader {
    static let base = "hmmkit-fixture 1\nprofile linux-6.12\n"

    @Test func roundTripsAndDefaultsToMixed() throws {
        let plain = try Fixture.parse(Self.base + "# steps\nmmap r0 pages=1 prot=rw kind=anon-private\n")
        #expect(plain.data == .mixed)
        #expect(!plain.text.contains("data "))
        let runs = try Fixture.parse(Self.base + "data int-runs\n# steps\nmmap r0 pages=1 prot=rw kind=anon-private\n")
        #expect(runs.data == .intRuns)
        #expect(try Fixture.parse(runs.text).data == .intRuns)
    }

    @Test func unknownDataIsAnErrorNamingTheLine() {
        #expect(throws: FixtureError(file: "f", line: 3, message: "data must be mixed or int-runs")) {
            try Fixture.parse(Self.base + "data words\n# steps\n", file: "f")
        }
    }
}
