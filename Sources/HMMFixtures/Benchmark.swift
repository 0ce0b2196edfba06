import HMMModel
import HMMUAPI

/// Model performance figures (no printing).
public struct BenchmarkFigures: Sendable, CustomStringConvertible {
    /// Simple steps (CPU reads and writes) per second on one core.
    public var stepsPerSecond: Double
    /// Model bytes for a 262,144-page address space, every page populated and mirrored once.
    public var bytesFor262144Pages: Int
    /// Seconds to generate and model-check `sequences` sequences of `length` steps.
    public var generateAndCheckSeconds: Double
    public var sequences: Int
    public var length: Int

    public var description: String {
        "\(Int(stepsPerSecond)) steps/s, \(bytesFor262144Pages / 1024) KiB for 262144 pages, "
            + "\(sequences)×\(length) sequences in \(generateAndCheckSeconds) s"
    }
}

public enum ModelBenchmark {
    static let origin = ContinuousClock.now

    static func now() -> Double {
        let t = ContinuousClock.now - origin
        return Double(t.components.seconds) + Double(t.components.attoseconds) * 1e-18
    }

    /// Runs the three measurements. Smaller arguments make a quick smoke run.
    public static func run(simpleSteps: Int = 2_000_000, sequences: Int = 10_000, length: Int = 50,
                           largePages: Int = 262_144) -> BenchmarkFigures {
        // 1. Simple steps.
        var m = Model(profile: .linux6_12, environment: Environment(devices: [0, 1]))
        m.step(.mmap(0, pages: 4096, prot: .readWrite, kind: .anonPrivate, file: nil, offset: 0))
        let t0 = now()
        for i in 0..<simpleSteps {
            let p = (i &* 7919) & 4095
            if i & 1 == 0 { m.step(.cpuWrite(0, page: p, token: UInt64(i))) } else { m.step(.cpuRead(0, page: p)) }
        }
        let steps = Double(simpleSteps) / max(now() - t0, 1e-9)

        // 2. Memory for a large address space.
        var big = Model(profile: .linux6_12, environment: Environment(devices: [0]))
        big.step(.mmap(0, pages: largePages, prot: .readWrite, kind: .anonPrivate, file: nil, offset: 0))
        for p in 0..<largePages { big.step(.cpuWrite(0, page: p, token: UInt64(p + 1))) }
        big.step(.open(0, minor: 0))
        big.step(.ioctl(IoctlCall(fd: 0, .snapshot, PageRange(0, 0, 1))))
        big.step(.ioctl(IoctlCall(fd: 0, .read, PageRange(0, 0, largePages))))
        let bytes = big.footprintBytes

        // 3. Generate and model-check sequences: the generator steps the model; then the
        // fixture is replayed through a fresh model and every primary observation checked.
        let t1 = now()
        var gen = FixtureGenerator(seed: 1, profile: .linux6_12, environment: Environment(devices: [0, 1]))
        for _ in 0..<sequences {
            let f = gen.generate(steps: length)
            var model = f.makeModel()
            for st in f.steps {
                let e = model.apply(st.action)
                _ = model.commit(e.primaryObservation)
            }
        }
        let seqSeconds = now() - t1
        return BenchmarkFigures(stepsPerSecond: steps, bytesFor262144Pages: bytes, generateAndCheckSeconds: seqSeconds,
                                sequences: sequences, length: length)
    }
}
