import Foundation
import HMMFixtures
import HMMModel

/// Coverage guidance of a campaign (`fuzz --guided`), saved in `campaign.json`: the corpus
/// (programs that added coverage, kept under `corpus/`), counters, and the signal over time.
/// The signal itself, one hex PC a line, is in `kcov-signal.txt` (every PC any program
/// reached) and `kcov-corpus-signal.txt` (the PCs of programs without an event, which decide
/// what joins the corpus).
public struct GuidanceState: Sendable, Codable, Equatable {
    public var corpus: [CorpusEntry] = []
    /// Programs made fresh by the generator, and by mutating a corpus program.
    public var generated = 0
    public var mutated = 0
    /// Of those, how many joined the corpus.
    public var generatedKept = 0
    public var mutatedKept = 0
    /// Programs that ran but sent no coverage (a kernel without KCOV, a hung worker).
    public var uncovered = 0
    /// `kcov-pcs:` lines that did not decode (untrusted guest output).
    public var malformedLines = 0
    /// After each round: campaign seconds, execs, signal, corpus size.
    public var history: [Point] = []
    /// The signal by instrumented file (from the kernel's `kcov/` symbols), and PCs in none.
    public var signalByFile: [String: Int] = [:]
    public var unmappedSignal = 0

    public struct Point: Sendable, Codable, Equatable {
        public var seconds: Double
        public var execs: Int
        public var signal: Int
        public var corpus: Int
    }

    public init() {}

    /// Files under the campaign directory.
    public static let signalFile = "kcov-signal.txt"
    public static let corpusSignalFile = "kcov-corpus-signal.txt"
    public static let corpusDirectory = "corpus"
}

/// One corpus program: where it came from, and how much it added when it ran.
public struct CorpusEntry: Sendable, Codable, Equatable {
    /// The program number (`seed…` in test names).
    public var program: UInt64
    /// Under the campaign directory.
    public var file: String
    /// PCs it added to the corpus signal.
    public var newSignal: Int
    /// nil: generated from seed `program`; else the corpus program it mutates.
    public var parent: UInt64?
    public var operations: [FixtureMutator.Operation]?
}

/// A set of canonical PCs (``KCOVWire``).
public struct CoverageSignal: Sendable, Equatable {
    public private(set) var pcs = Set<UInt64>()

    public init(_ pcs: some Sequence<UInt64> = []) { self.pcs = Set(pcs) }

    public var count: Int { pcs.count }

    /// Adds `new`; returns how many were not there.
    @discardableResult
    public mutating func add(_ new: [UInt64]) -> Int {
        var added = 0
        for pc in new where pcs.insert(pc).inserted { added += 1 }
        return added
    }

    public func contains(_ pc: UInt64) -> Bool { pcs.contains(pc) }

    /// One lower-case hex PC a line, sorted.
    public var text: String { pcs.sorted().map { String($0, radix: 16) + "\n" }.joined() }

    /// Reads `text`; a line that is not a hex PC is an error naming `file:line`.
    public static func parse(_ text: String, file: String) throws -> CoverageSignal {
        var signal = CoverageSignal()
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            guard line.utf8.count <= 16, let pc = UInt64(line, radix: 16) else {
                throw FuzzError("\(file):\(i + 1): not a hex PC: '\(line.prefix(40))'")
            }
            signal.pcs.insert(pc)
        }
        return signal
    }
}

/// What program number `n` of a guided campaign is. Pure: the same number and corpus
/// weights give the same plan.
public enum ProgramPlan: Equatable, Sendable {
    /// The generator's program for seed `n`, as an unguided campaign runs it.
    case generate
    /// A mutation of corpus entry `entry` (index), splicing from `other`, with this RNG seed.
    case mutate(entry: Int, other: Int?, rngSeed: UInt64)

    /// Percent of programs made fresh once the corpus has entries.
    public static let freshPercent = 25

    /// Fresh when the corpus is empty or by chance; else a corpus entry picked by weight:
    /// entries that added more signal are picked more often, none is starved
    /// (``weight(newSignal:)``).
    public static func plan(program n: UInt64, corpusSignal: [Int], freshPercent: Int = ProgramPlan.freshPercent) -> ProgramPlan {
        var rng = Xoshiro256(seed: n ^ 0x6775_6964_6564)
        if corpusSignal.isEmpty || rng.chance(freshPercent) { return .generate }
        let weights = corpusSignal.map(weight(newSignal:))
        let entry = rng.weighted(weights)
        let other = corpusSignal.count > 1 ? rng.weighted(weights) : nil
        return .mutate(entry: entry, other: other == entry ? nil : other, rngSeed: rng.next())
    }

    /// 10 for an entry that added one PC, up to 110 for one that added 100 or more.
    public static func weight(newSignal: Int) -> Int { 10 + min(100, max(0, newSignal)) }
}
