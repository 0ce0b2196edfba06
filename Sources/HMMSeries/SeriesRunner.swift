import Foundation
import HMMReport
import HMMVM

/// What `hmmkit series` was asked to do.
public struct SeriesConfiguration: Sendable {
    public enum Patches: Sendable, Hashable {
        /// An mbox file (`git format-patch` output, a list archive's), applied with `git am`.
        case mbox(String)
        /// Commits of the tree, applied in order on top of the base.
        case range(CommitRange)
    }

    public var tree: String
    public var base: String
    public var patches: Patches
    /// Build and run after every patch, and name the patch that brought in each failure.
    public var each = false
    /// Fixture files or directories the guest replays besides the suite (absolute paths).
    public var fixtures: [String] = []
    /// Where results go (absolute).
    public var output: String
    public var accelerator: VMConfiguration.AcceleratorChoice = .auto
    public var stallTimeout: Double = 300
    public var instructionCountShift: Int?
    /// Let the guest shrink a divergent fixture (up to 90 s each); off, a series run stays short.
    public var shrink = false
    /// More `hmmkit run` arguments for the guest (filters, timeouts).
    public var runArguments: [String] = []
    public var cacheRoot = SeriesLayout.defaultCacheRoot

    public init(tree: String, base: String, patches: Patches, output: String) {
        self.tree = tree
        self.base = base
        self.patches = patches
        self.output = output
    }

    /// The guest's `hmmkit run` arguments.
    public var guestArguments: [String] {
        ["run"] + fixtures.flatMap { ["--fixtures", $0] } + (shrink ? [] : ["--no-shrink"]) + runArguments
    }
}

/// Results of a series: every kernel that ran, each patch against the base, and for
/// `--each` the patch that introduced each failure.
public struct SeriesOutcome: Sendable {
    public var repository: String
    /// The base and every patch.
    public var steps: [SeriesStep]
    /// Results of the kernels that ran, by step number.
    public var results: [Int: ResultSet]
    /// Each patched kernel that ran against the base, by step number.
    public var comparisons: [Int: Comparison]
    /// The base against the whole series.
    public var final: Comparison
    public var culprits: [Attribution.Culprit]
    public var each: Bool
    public var output: String

    public var patchCount: Int { steps.count - 1 }
    public var isRegression: Bool { final.isRegression }
}

/// Runs a series: scratch worktree, patches, kernel builds (cached per tree), one VM run
/// per kernel, result files and comparisons. Progress goes to `progress`.
public final class SeriesRunner {
    public let configuration: SeriesConfiguration
    let progress: (String) -> Void

    public init(configuration: SeriesConfiguration, progress: @escaping (String) -> Void) {
        self.configuration = configuration
        self.progress = progress
    }

    /// The kernels of a series, built or found in the cache, before any VM runs.
    public struct Kernels {
        public var repository: String
        /// The base and every patch.
        public var steps: [SeriesStep]
        /// The steps that are tested: all with `each`, else the base and the last patch.
        public var tested: [SeriesStep]
        /// Built kernels of the tested steps, by step number.
        public var artifacts: [Int: KernelArtifacts]
        /// What KCIDB's checkout says of each tested step's source, by step number.
        public var checkouts: [Int: KCIDBWriter.Checkout] = [:]
    }

    /// Applies the series in the scratch worktree (every patch first, so one that does not
    /// apply is found before any build) and builds the kernels to test that are not cached.
    /// The tree's lock is held until `release` is called on the returned lock.
    public func buildKernels() throws(SeriesError) -> (Kernels, FileLock) {
        let c = configuration
        let mails = try readMails()
        let scratch = try ScratchTree(directory: c.tree, cacheRoot: c.cacheRoot)
        let baseCommit = try scratch.resolve(c.base, what: "--base")
        try makeDirectory(scratch.layout.directory)
        let lock = try FileLock(path: scratch.layout.lockFile) {
            progress("another hmmkit series is using \(scratch.path); waiting for it")
        }
        try makeDirectory(c.output)
        removeStaleFiles()

        try scratch.prepare(base: baseCommit, progress: progress)
        let base = try scratch.baseStep()
        let patches: [SeriesStep]
        switch c.patches {
        case .mbox: patches = try scratch.apply(mails: mails, progress: progress)
        case let .range(range): patches = try scratch.apply(range: range, progress: progress)
        }
        let steps = [base] + patches
        let count = patches.count
        let tested = c.each ? steps : [base, patches[count - 1]]
        let testing = tested.map { label($0, count) }.joined(separator: ", ")
        progress("base \(base.commit.prefix(12)) and \(count) patch\(count == 1 ? "" : "es"); testing \(testing)")

        let store = try KernelStore(layout: scratch.layout)
        var kernels: [Int: KernelArtifacts] = [:]
        for step in tested {
            if let cached = store.cached(step) {
                progress("\(label(step, count)): kernel of tree \(step.tree.prefix(12)) already built: \(cached.directory)")
                kernels[step.number] = cached
                continue
            }
            progress("\(label(step, count)): building \(step.title(of: count)) (\(step.commit.prefix(12)))")
            try scratch.checkout(step.commit)
            let started = Date()
            kernels[step.number] = try store.build(step, title: step.title(of: count),
                                                   logCopy: c.output + "/\(label(step, count)).build.log", progress: progress)
            progress("\(label(step, count)): built in \(Int(Date().timeIntervalSince(started))) s")
        }
        let url = scratch.repositoryURL()
        var checkouts: [Int: KCIDBWriter.Checkout] = [:]
        for step in tested { checkouts[step.number] = step.checkout(base: base, mails: mails, repositoryURL: url) }
        let built = Kernels(repository: scratch.layout.repository, steps: steps, tested: tested, artifacts: kernels,
                            checkouts: checkouts)
        return (built, lock)
    }

    /// The whole series: kernels, a VM run of each, result files and comparisons.
    public func run() throws(SeriesError) -> SeriesOutcome {
        let c = configuration
        let (built, lock) = try buildKernels()
        defer { lock.release() }
        let steps = built.steps
        let tested = built.tested
        let kernels = built.artifacts
        let count = steps.count - 1
        let patches = Array(steps.dropFirst())
        var results: [Int: ResultSet] = [:]
        for step in tested {
            results[step.number] = try runSuite(step, count: count, kernel: kernels[step.number]!, checkout: built.checkouts[step.number])
        }

        // Compare each patched kernel with the base.
        var comparisons: [Int: Comparison] = [:]
        for step in tested.dropFirst() {
            do {
                comparisons[step.number] = try Comparison(base: results[0]!, patched: results[step.number]!)
            } catch {
                throw SeriesError(.failed, "cannot compare \(label(step, count)) with the base: \(error)")
            }
        }
        let final = comparisons[count]!
        let culprits = c.each
            ? Attribution.culprits(of: Attribution.regressedTests(final), afterPatch: patches.map { results[$0.number]! })
            : []
        let outcome = SeriesOutcome(repository: built.repository, steps: steps, results: results,
                                    comparisons: comparisons, final: final, culprits: culprits, each: c.each, output: c.output)
        do {
            try AtomicFile.write(final.text, to: c.output + "/comparison.txt")
            try AtomicFile.write(final.json.rendered() + "\n", to: c.output + "/comparison.json")
            try AtomicFile.write(outcome.summary, to: c.output + "/summary.txt")
        } catch {
            throw SeriesError(.failed, "\(error)")
        }
        return outcome
    }

    func label(_ step: SeriesStep, _ count: Int) -> String { SeriesStep.label(step.number, of: count) }

    /// The patches of `--mbox`, cover letters left out; empty for `--range`.
    func readMails() throws(SeriesError) -> [MailPatch] {
        guard case let .mbox(path) = configuration.patches else { return [] }
        let patches: [MailPatch]
        do { patches = try Mbox.load(path: path) } catch {
            throw SeriesError(.badInput, "--mbox: \(error)")
        }
        return patches
    }

    /// Files of an earlier series in the output directory that this one would not replace.
    func removeStaleFiles() {
        let dir = configuration.output
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where Self.isOwnOutput(name) {
            try? fm.removeItem(atPath: dir + "/" + name)
        }
        for sub in ["vm", "guest-files"] {
            for name in (try? fm.contentsOfDirectory(atPath: dir + "/" + sub)) ?? [] where Self.isOwnOutput(name + ".ktap") {
                try? fm.removeItem(atPath: dir + "/" + sub + "/" + name)
            }
        }
    }

    /// Longest first: `.json` must not claim `base.kcidb.json`.
    static let outputSuffixes = [".kcidb.json", ".junit.xml", ".build.log", ".ktap", ".json"]

    /// Whether `hmmkit series` writes files of this name (`patch-03.ktap`, `comparison.json`, …).
    static func isOwnOutput(_ name: String) -> Bool {
        if ["comparison.txt", "comparison.json", "summary.txt"].contains(name) { return true }
        guard let suffix = outputSuffixes.first(where: name.hasSuffix) else { return false }
        let stem = name.dropLast(suffix.count)
        if stem == "base" || stem == "patched" { return true }
        return stem.hasPrefix("patch-") && stem.count > 6 && stem.dropFirst(6).allSatisfy(\.isNumber)
    }

    /// Boots the kernel with the suite (and fixtures); saves KTAP and the other result files
    /// under the step's names (`base`, `patch-01`, `patched`), the KCIDB file with `checkout`.
    func runSuite(_ step: SeriesStep, count: Int, kernel: KernelArtifacts,
                  checkout: KCIDBWriter.Checkout?) throws(SeriesError) -> ResultSet {
        let c = configuration
        let name = label(step, count)
        var names = [name]
        if step.number == count && count > 0 { names = c.each ? [name, "patched"] : ["patched"] }
        let (command, resumable) = GuestCommand.hmmkit(c.guestArguments)
        var options = VMSession.Options(artifacts: kernel, command: command, resumable: resumable)
        options.accelerator = c.accelerator
        options.stallTimeout = c.stallTimeout
        options.instructionCountShift = c.instructionCountShift
        options.keepDirectory = c.output + "/vm/" + names[0]
        options.artifactsDirectory = c.output + "/guest-files/" + names[0]
        try? FileManager.default.removeItem(atPath: options.keepDirectory!)
        let lines = LineCollector()
        let say = progress
        let session = VMSession(options: options, progress: { say("\(name): vm: \($0)") }, emit: { line in
            lines.append(line)
            if line.hasPrefix("not ok ") { say("\(name): \(line)") }
        })
        progress("\(name): running the suite on \(kernel.release) (\(step.title(of: count)))")
        let report: VMSession.Report
        do { report = try session.run() } catch {
            throw SeriesError(.failed, "\(name): the VM run failed: \(error)")
        }
        let text = lines.text
        let primary = c.output + "/\(names[0]).ktap"
        let set: ResultSet
        do {
            for n in names { try AtomicFile.write(text, to: c.output + "/\(n).ktap") }
            set = try ResultSet.parse(text, file: primary, options: LoadOptions(allowIncomplete: true))
            let kcidb = try KCIDBWriter(origin: "hmmkit", checkout: checkout)
            let (json, kcidbText, junit) = (set.jsonText, kcidb.text(for: set), JUnitWriter().text(for: set))
            for n in names {
                try AtomicFile.write([(json, c.output + "/\(n).json"), (kcidbText, c.output + "/\(n).kcidb.json"),
                                      (junit, c.output + "/\(n).junit.xml")])
            }
        } catch {
            throw SeriesError(.failed, "\(name): \(error)")
        }
        progress(String(format: "%@: %@ in %.0f s (%d boot%@, %@)", name, set.summary, report.seconds, report.boots,
                        report.boots == 1 ? "" : "s", report.accelerator))
        return set
    }

    func makeDirectory(_ path: String) throws(SeriesError) {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw SeriesError(.failed, "cannot create \(path): \(error)")
        }
    }
}

extension SeriesStep {
    /// KCIDB's checkout for this step. A patch of `--mbox` is the base commit plus the mails
    /// applied so far: their ``KCIDBWriter/patchsetHash(_:)`` and the last one's Message-ID.
    /// The base and a commit of `--range` are the commit itself, with no patchset.
    public func checkout(base: SeriesStep, mails: [MailPatch], repositoryURL: String?) -> KCIDBWriter.Checkout {
        guard number > 0, !mails.isEmpty else {
            return KCIDBWriter.Checkout(repositoryURL: repositoryURL, commitHash: commit, patchsetHash: "")
        }
        let applied = Array(mails.prefix(number))
        return KCIDBWriter.Checkout(repositoryURL: repositoryURL, commitHash: base.commit,
                                    patchsetHash: KCIDBWriter.patchsetHash(applied.map(\.text)), messageID: applied.last?.messageID)
    }
}

/// The relayed KTAP lines of one VM run.
final class LineCollector {
    private var lines: [String] = []
    func append(_ line: String) { lines.append(line) }
    var text: String { lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n" }
}
