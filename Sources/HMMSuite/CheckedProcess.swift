import HMMFixtures
import HMMKernel
import HMMModel
import HMMSystem
import HMMUAPI

/// A test's process under the reference model: every step is performed on the running
/// kernel and its answer (errno, cpages, faults, data, snapshot bytes, nodes) checked
/// against the model's envelope by a ``ModelChecker`` on the other CPU. The first answer
/// outside the envelope fails the test with the step, the envelope and its reasons, and
/// the kernel's answer; the runner waits for the check before it gives the verdict.
///
/// Data uses hmm-tests' int patterns (``IntRun``), so a kselftest-named test writes
/// and checks the same ints as its C twin.
public final class CheckedProcess {
    let context: TestContext
    let performer: StepPerformer
    private let checker: ModelChecker
    let intsPerPage = Machine.pageSize / 4
    private var regions = 0
    private var fds = 0
    private var files = 0
    /// Every step handed to the model, in its order (for the reproducer).
    private var recorded: [Action] = []
    /// Performed steps not yet handed to the model's thread: a loop over a range hands them
    /// over in batches (one lock and at most one wake-up each) instead of one by one.
    private var outbox: [ModelChecker.Item] = []
    private let profile: KernelProfile
    private let environment: Environment
    /// Where a divergence's reproducer goes: `$HMMKIT_OUTPUT_DIR` (in a VM: collected by
    /// `vm run --output`), else `./hmmkit-out`.
    var reproducerDirectory = getenvString("HMMKIT_OUTPUT_DIR") ?? "hmmkit-out"

    /// The model for the running kernel and this machine. A kernel no profile covers
    /// skips the test: without a model there is nothing to check against.
    public convenience init(_ context: TestContext) throws {
        try self.init(context, modelInline: context.modelInline)
    }

    /// `modelInline`: check on the test's thread instead of the model's own (``ModelChecker``).
    init(_ context: TestContext, modelInline: Bool) throws {
        let release = Machine.kernelRelease
        guard let profile = SystemFacts.runningKernelProfile(release: release) else {
            throw TestSkip("no reference-model profile for kernel \(release) (hmmkit models 6.1 and later)")
        }
        let nodes = context.facts.numaNodes.filter { $0.memoryBytes > 0 }.map(\.id)
        // The local node is the first node with CPUs and memory, and the test's thread is
        // pinned there below; a machine with no such node leaves it unknown (any node).
        let home = LocalNodePlacement.home(among: context.facts.numaNodes)
        let environment = Environment(devices: context.facts.devices.sorted(), nodes: nodes.isEmpty ? [0] : nodes,
                                      localNode: nodes.isEmpty ? 0 : home?.node,
                                      thp: THPSetting.current() ?? .never,
                                      files: SystemFacts.fileBacking(of: "/tmp") ?? .pageMkwrite)
        self.context = context
        self.profile = profile
        self.environment = environment
        performer = StepPerformer(generation: context.generation, tmpDirectory: "/tmp", codec: .intRuns)
        checker = try ModelChecker(model: Model(profile: profile, environment: environment), codec: .intRuns, inline: modelInline)
        // After the checker's thread has started, so only the test's thread is pinned.
        try home?.apply()
        // Strong capture: the test body has dropped its reference by now; runEndChecks
        // clears the list, which ends the cycle.
        context.atEnd {
            // Steps still in the outbox (the body threw mid-loop) are checked too.
            _ = self.checker.submit(self.outbox)
            self.outbox = []
            // The test's kernel teardown (closing a device file evicts test_hmm's device
            // memory) overlaps the model's last checks instead of following them.
            self.performer.closeDevices()
            if let failure = self.checker.finish() {
                self.saveReproducer(upTo: failure.index)
                throw Self.report(failure, context)
            }
        }
    }

    /// The steps up to the failing one as a fixture (`data int-runs`, expectations derived),
    /// saved to ``reproducerDirectory``: `hmmkit replay` shrinks it and emits a kselftest C test.
    private func saveReproducer(upTo index: Int) {
        guard index < recorded.count else { return }
        var actions = Array(recorded[...index])
        var open = false
        for a in actions {
            if case .fork = a { open = true }
            if case .exitChild = a { open = false }
        }
        if open { actions.append(.exitChild) }
        var fixture = Fixture(profile: profile, environment: environment, steps: actions.map { Step($0) })
        fixture.data = .intRuns
        fixture.about = ["\(context.id) (hmmkit's kselftest-named test) left the model's envelope at step \(index + 1) "
                            + "on \(Machine.kernelRelease);",
                         "replay it with: hmmkit replay --output DIR FILE (shrinks it and writes a kselftest TEST_F C test)"]
        let directory = reproducerDirectory
        let name = "\(context.id.fixture)-\(context.id.variant)-\(context.id.name)"
        do {
            try makeDirectory(directory)
            try createTextFile(directory + "/\(name).fixture", fixture.derived().text)
            context.log("reproducer: \(directory)/\(name).fixture (\(actions.count) steps)")
        } catch {
            context.log("could not save the reproducer under \(directory): \(error)")
        }
    }

    // MARK: Steps

    /// Performs `action` on the kernel and queues it for the model. Returns the kernel's
    /// answer, not yet checked (hmm-tests' steps do not depend on it).
    @discardableResult
    public func step(_ action: Action, file: String = #fileID, line: Int = #line) throws -> Observation {
        try step(action, handOver: true, file: file, line: line)
    }

    /// ``step(_:file:line:)``; with `handOver` false the step waits in the outbox (a loop
    /// over a range calls ``handOver()`` at its end).
    @discardableResult
    private func step(_ action: Action, handOver: Bool, file: String, line: Int) throws -> Observation {
        // fork() performs the real fork; the model's process switch needs no kernel call.
        let answer: Observation = switch action {
        case .fork, .exitChild: Observation()
        default: performer.perform(action)
        }
        try queue(.init(action: action, answer: answer, followOnly: false, inChild: false, file: file, line: line), handOver: handOver)
        return answer
    }

    /// A CPU write has no answer to check (a fault that fails kills the process): the
    /// model only follows it.
    private func write(_ action: Action, file: String, line: Int) throws {
        _ = performer.perform(action)
        try queue(.init(action: action, answer: Observation(), followOnly: true, inChild: false, file: file, line: line),
                  handOver: false)
    }

    /// Hands a performed step to the model. Once the model has found a divergence the test
    /// stops, as hmm-tests' ASSERTs do (the end check reports it, with the reproducer):
    /// later steps would run on a kernel the model no longer describes.
    private func queue(_ item: ModelChecker.Item, handOver now: Bool) throws {
        record(item)
        if now || outbox.count >= Self.handOverBatch { try handOver() }
    }

    /// Adds a performed step to the reproducer's steps and to the outbox.
    private func record(_ item: ModelChecker.Item) {
        recorded.append(item.action)
        outbox.append(item)
    }

    /// Hands the outbox to the model's thread.
    private func handOver() throws {
        guard let last = outbox.last else { return }
        let fine = checker.submit(outbox)
        outbox.removeAll(keepingCapacity: true)
        if !fine {
            throw TestFailure("stopped: the model found a divergence at an earlier step", file: last.file, line: last.line)
        }
    }

    /// Steps per hand-over in a loop over a range.
    static let handOverBatch = 128

    // MARK: hmm-tests vocabulary

    /// An anonymous (or other) mapping of `pages` at a 2 MiB-aligned slot.
    public func mmap(pages: Int, _ prot: HMMModel.Protection = .readWrite, kind: HMMModel.MappingKind = .anonPrivate,
                     file backing: FileID? = nil, file: String = #fileID, line: Int = #line) throws -> RegionID {
        try tryMmap(pages: pages, prot, kind: kind, file: backing, file: file, line: line).0
    }

    /// A mapping the model allows to fail (hugetlb without a free huge page): the region
    /// and the kernel's answer (checked later, like every answer).
    public func tryMmap(pages: Int, _ prot: HMMModel.Protection = .readWrite, kind: HMMModel.MappingKind,
                        file backing: FileID? = nil, file: String = #fileID, line: Int = #line) throws -> (RegionID, Observation) {
        let r = regions
        regions += 1
        return (r, try step(.mmap(r, pages: pages, prot: prot, kind: kind, file: backing, offset: 0), file: file, line: line))
    }

    /// Opens the variant's device number `index` (hmm2 fixtures have two).
    public func open(_ index: Int = 0, file: String = #fileID, line: Int = #line) throws -> FdID {
        let fd = newFd()
        try step(.open(fd, minor: context.variant.minors[index]), file: file, line: line)
        return fd
    }

    /// A descriptor number not used yet (a forked child opens its own).
    public func newFd() -> FdID {
        defer { fds += 1 }
        return fds
    }

    public func newFile(pages: Int, file: String = #fileID, line: Int = #line) throws -> FileID {
        let f = files
        files += 1
        try step(.fileCreate(f, pages: pages), file: file, line: line)
        return f
    }

    /// The tokens of `ptr[i] = offset + stride * i` over `pages` of a buffer.
    public func pattern(_ pages: Range<Int>, offset: Int32 = 0, stride: Int32 = 1) -> [UInt64] {
        pages.map { IntRun.page($0, offset: offset, stride: stride, intsPerPage: intsPerPage).token }
    }

    /// The CPU writes `ptr[i] = offset + stride * i` on each page of `pages`.
    public func cpuWrite(_ r: RegionID, _ pages: Range<Int>, offset: Int32 = 0, stride: Int32 = 1,
                         file: String = #fileID, line: Int = #line) throws {
        for (page, token) in zip(pages, pattern(pages, offset: offset, stride: stride)) {
            try write(.cpuWrite(r, page: page, token: token), file: file, line: line)
        }
        try handOver()
    }

    /// The CPU reads each page of `pages`; the model checks the ints.
    public func cpuRead(_ r: RegionID, _ pages: Range<Int>, file: String = #fileID, line: Int = #line) throws {
        for page in pages { try step(.cpuRead(r, page: page), handOver: false, file: file, line: line) }
        try handOver()
    }

    /// `ptr[i] += by` on every int of `pages`: a checked read, then the write.
    public func cpuIncrement(_ r: RegionID, _ pages: Range<Int>, by: Int32 = 1, file: String = #fileID, line: Int = #line) throws {
        for page in pages {
            let seen = try step(.cpuRead(r, page: page), handOver: false, file: file, line: line)
            guard let token = seen.tokens?.first ?? nil, let run = IntRun(token: token) else {
                throw TestFailure("page \(page) holds no int run to increment", file: file, line: line)
            }
            try write(.cpuWrite(r, page: page, token: IntRun(start: run.start &+ by, stride: run.stride).token), file: file, line: line)
        }
        try handOver()
    }

    /// One dmirror ioctl over `pages` of `r` (WRITE sends `data`).
    @discardableResult
    public func ioctl(_ fd: FdID, _ command: DmirrorOperation, _ r: RegionID, _ pages: Range<Int>, data: [UInt64] = [],
                      file: String = #fileID, line: Int = #line) throws -> Observation {
        try step(.ioctl(IoctlCall(fd: fd, command, PageRange(r, pages.lowerBound, pages.count), data: data)), file: file, line: line)
    }

    public func mprotect(_ r: RegionID, _ pages: Range<Int>, _ prot: HMMModel.Protection,
                         file: String = #fileID, line: Int = #line) throws {
        try step(.mprotect(PageRange(r, pages.lowerBound, pages.count), prot), file: file, line: line)
    }

    public func munmap(_ r: RegionID, _ pages: Range<Int>, file: String = #fileID, line: Int = #line) throws {
        try step(.munmap(PageRange(r, pages.lowerBound, pages.count)), file: file, line: line)
    }

    public func madvise(_ r: RegionID, _ pages: Range<Int>, _ advice: HMMModel.Advice, file: String = #fileID, line: Int = #line) throws {
        try step(.madvise(PageRange(r, pages.lowerBound, pages.count), advice), file: file, line: line)
    }

    /// Where a region's page is, for calls the model has no words for (gup_test).
    public func address(_ r: RegionID, page: Int = 0) -> UInt64 { performer.address(r, page) }

    /// The open device behind `fd`, for calls the model has no words for.
    func device(_ fd: FdID) -> OpenDevice { performer.device(fd)! }

    // MARK: fork

    /// Forks; the child performs `childSteps` (its own device files: it opens them) and
    /// exits. The parent hands each of the child's answers to the model in order as it
    /// arrives, as if the child's steps ran between `fork` and the child's exit: the model
    /// checks them while the child goes on.
    public func fork(_ childSteps: [Action], file: String = #fileID, line: Int = #line) throws {
        try step(.fork, file: file, line: line)
        // No other thread may be inside the runtime (holding its locks) when we fork.
        // A divergence already found is reported (with its reproducer) by the end check.
        if checker.drain() != nil {
            throw TestFailure("stopped before the fork: the model found a divergence earlier", file: file, line: line)
        }
        let performer = self.performer
        var child = try ForkedChild.spawn(newProcessGroup: false) { send in
            performer.becomeChild()
            // Answers go up in batches (one line, one write each): a line per step cost a
            // write, a wake-up of the parent and a read per page of a 1,024-page loop.
            var batch: [String] = []
            for action in childSteps {
                batch.append(ObservationText.encode(performer.perform(action)))
                if batch.count == Self.answersPerLine {
                    send("O " + batch.joined(separator: ";"))
                    batch.removeAll(keepingCapacity: true)
                }
            }
            if !batch.isEmpty { send("O " + batch.joined(separator: ";")) }
            return 0
        }
        var answered = 0
        var stopped: String?
        let deadline = monotonicSeconds() + 25
        loop: while true {
            switch child.next(deadline: deadline) {
            case let .line(l):
                guard l.hasPrefix("O "), let batch = ObservationText.decodeBatch(String(l.dropFirst(2))),
                      batch.count <= childSteps.count - answered else {
                    stopped = "unreadable answer '\(l.prefix(200))'"
                    break loop
                }
                for answer in batch {
                    record(.init(action: childSteps[answered], answer: answer, followOnly: false, inChild: true, file: file, line: line))
                    answered += 1
                }
                // A divergence found meanwhile stops the test at the exitChild step below.
                _ = checker.submit(outbox)
                outbox.removeAll(keepingCapacity: true)
            case .closed: break loop
            case .timedOut:
                stopped = "no answer within 25 s"
                break loop
            }
        }
        if stopped != nil { child.killGroup() }
        let end = child.wait()
        if let stopped {
            throw TestFailure("forked child: \(stopped) (after \(answered) of \(childSteps.count) steps)", file: file, line: line)
        }
        guard end == .exited(0), answered == childSteps.count else {
            throw TestFailure("forked child \(end) after \(answered) of \(childSteps.count) steps", file: file, line: line)
        }
        try step(.exitChild, file: file, line: line)
    }

    /// How many of a forked child's answers share one line (the wire form has no `;`).
    static let answersPerLine = 256

    private static func report(_ failure: ModelChecker.Failure, _ context: TestContext) -> TestFailure {
        for line in failure.report { context.log(line) }
        return failure.failure
    }
}
