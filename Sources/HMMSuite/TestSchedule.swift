/// Something a running test holds for itself, so that tests holding nothing in common may
/// run at once (`run --jobs N`).
public enum SharedResource: Hashable, Sendable, CustomStringConvertible {
    /// A dmirror device: its device memory and chunks (HMM_DMIRROR_RELEASE frees them all,
    /// closing a file evicts them) and its counters.
    case device(minor: Int)
    /// The machine's free huge pages (hugetlbfs' pool), which a test may need all of.
    case hugeTLBPool

    /// Whether the tests that hold it run in plan order (a device's tests build on its
    /// state, as kselftest's do) or only one at a time, in any order (the huge page pool).
    var keepsPlanOrder: Bool {
        switch self {
        case .device: true
        case .hugeTLBPool: false
        }
    }

    public var description: String {
        switch self {
        case let .device(minor): "device \(minor)"
        case .hugeTLBPool: "the huge page pool"
        }
    }
}

/// Which tests a test may run beside.
public enum Concurrency: Sendable, Equatable {
    /// Nothing else runs while it does: the default for a test whose reach is not declared
    /// (fixture replays, VM checks).
    case alone
    /// Beside any test that holds none of these.
    case holding(Set<SharedResource>)

    /// A kselftest-named test on `variant`: its devices, and the huge page pool when it
    /// needs free huge pages. Everything else it touches is its own process's.
    public static func kselftest(variant: Variant, needs: [TestNeed]) -> Concurrency {
        var held = Set(variant.minors.map { SharedResource.device(minor: $0) })
        if needs.contains(where: { if case .freeHugePages = $0 { true } else { false } }) { held.insert(.hugeTLBPool) }
        return .holding(held)
    }

    /// Whether two tests must not run at the same time.
    func conflicts(with other: Concurrency) -> Bool {
        switch (self, other) {
        case (.alone, _), (_, .alone): true
        case let (.holding(a), .holding(b)): !a.isDisjoint(with: b)
        }
    }

    /// Whether this test must wait for `earlier`, a test before it in the plan that has not
    /// started: they hold something whose tests run in plan order.
    func mustFollow(_ earlier: Concurrency) -> Bool {
        switch (self, earlier) {
        case (.alone, _), (_, .alone): true
        case let (.holding(a), .holding(b)): a.intersection(b).contains { $0.keepsPlanOrder }
        }
    }
}

/// When each test of a plan starts, with at most `jobs` running at once. A test starts
/// only when it conflicts with no running test, and no earlier test still waiting shares
/// a device with it: a device's tests run one at a time in plan order, tests that need
/// the huge page pool one at a time in any order.
struct TestSchedule {
    private let claims: [Concurrency]
    let jobs: Int
    private(set) var running: Set<Int> = []
    private var started: [Bool]
    private var finishedCount = 0
    /// No test before this one is waiting.
    private var firstWaiting = 0

    init(claims: [Concurrency], jobs: Int) {
        self.claims = claims
        self.jobs = max(1, jobs)
        started = [Bool](repeating: false, count: claims.count)
    }

    var isComplete: Bool { finishedCount == claims.count }

    /// The tests that may start now, in plan order; they count as running from here on.
    mutating func startable() -> [Int] {
        while firstWaiting < started.count && started[firstWaiting] { firstWaiting += 1 }
        var out: [Int] = []
        var waitingBefore: [Concurrency] = []
        for i in firstWaiting..<started.count where !started[i] {
            if running.count >= jobs { break }
            let claim = claims[i]
            let free = !running.contains { claims[$0].conflicts(with: claim) }
                && !waitingBefore.contains { claim.mustFollow($0) }
            if free {
                started[i] = true
                running.insert(i)
                out.append(i)
            } else {
                if claim == .alone { break }  // nothing after it may overtake it
                waitingBefore.append(claim)
            }
        }
        return out
    }

    mutating func finished(_ i: Int) {
        guard running.remove(i) != nil else { return }
        finishedCount += 1
    }
}

/// The results of tests that run at once, told in plan order (KTAP numbers them): the
/// earliest untold test's lines go out as they come, later tests' wait until every test
/// before them is told.
struct OrderedReport {
    enum Event: Equatable {
        case started(TestID)
        case diagnostic(String)
        case finished(TestID, TestOutcome)
    }

    private enum Progress {
        case waiting
        case running(held: [String])
        case finished(held: [String], TestOutcome)
        case told
    }

    private let ids: [TestID]
    private var progress: [Progress]
    /// The earliest test not yet told.
    private var head = 0

    init(ids: [TestID]) {
        self.ids = ids
        progress = [Progress](repeating: .waiting, count: ids.count)
    }

    mutating func started(_ i: Int) -> [Event] {
        progress[i] = .running(held: [])
        return i == head ? [.started(ids[i])] : []
    }

    mutating func diagnostic(_ i: Int, _ line: String) -> [Event] {
        if i == head { return [.diagnostic(line)] }
        switch progress[i] {
        case var .running(held):
            held.append(line)
            progress[i] = .running(held: held)
        case .waiting, .finished, .told:
            break  // a line after the verdict or before the start: the runner sends none
        }
        return []
    }

    mutating func finished(_ i: Int, _ outcome: TestOutcome) -> [Event] {
        switch progress[i] {
        case let .running(held): progress[i] = .finished(held: held, outcome)
        case .waiting, .finished, .told: progress[i] = .finished(held: [], outcome)
        }
        return advance()
    }

    /// Tells every finished test at the head, then starts telling the next running one.
    private mutating func advance() -> [Event] {
        var events: [Event] = []
        // The head's start and lines are already told; a later test's are told on arrival.
        var headAnnounced = true
        while head < ids.count {
            switch progress[head] {
            case let .finished(held, outcome):
                if !headAnnounced { events.append(.started(ids[head])) }
                events += held.map { .diagnostic($0) }
                events.append(.finished(ids[head], outcome))
                progress[head] = .told
                head += 1
                headAnnounced = false
            case let .running(held):
                if !headAnnounced {
                    events.append(.started(ids[head]))
                    events += held.map { .diagnostic($0) }
                    progress[head] = .running(held: [])
                }
                return events
            case .waiting, .told:
                return events
            }
        }
        return events
    }
}

/// `run --jobs`: how many tests may run at once.
public enum JobCount: Sendable, Equatable, CustomStringConvertible {
    /// ``Runner/automaticJobs(facts:)``: the CPUs that run at the same time.
    case automatic
    case exactly(Int)

    public static let maximum = 256

    /// `auto` or a count from 1 to ``maximum``.
    public init?(parsing text: String) {
        if text == "auto" {
            self = .automatic
        } else if let n = Int(text), (1...Self.maximum).contains(n) {
            self = .exactly(n)
        } else {
            return nil
        }
    }

    public func count(facts: SystemFacts) -> Int {
        switch self {
        case .automatic: Runner.automaticJobs(facts: facts)
        case let .exactly(n): n
        }
    }

    public var description: String {
        switch self {
        case .automatic: "auto"
        case let .exactly(n): String(n)
        }
    }
}
