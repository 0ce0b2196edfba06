import HMMFixtures
import HMMKernel
import HMMModel
import HMMSystem
import HMMUAPI

/// The first step where the kernel left the model's envelope.
public struct Divergence: Sendable, CustomStringConvertible {
    /// 0-based index into the fixture's steps.
    public var step: Int
    public var action: Action
    public var envelope: Envelope
    /// What the kernel answered (nil when the worker died or hung instead).
    public var observation: Observation?
    public var mismatches: [Mismatch]
    /// A crash, hang or kernel-log fault instead of (or besides) a wrong answer.
    public var event: String?

    /// Same failure for shrinking: same kind of step, same fields wrong (page indices
    /// ignored), or the same kind of event.
    public var signature: String {
        let fields = Set(mismatches.map { m in String(m.field.prefix { $0 != "[" }) }).sorted()
        let what = event.map { e in String(e.prefix { $0 != ":" }) } ?? fields.joined(separator: ",")
        return action.kindName + " / " + what
    }

    public var description: String { report().joined(separator: "\n") }

    /// The lines a person reads: the step, the envelope, the kernel's answer, what differs.
    public func report(line: Int? = nil) -> [String] {
        var out = ["step \(step + 1)\(line.map { " (line \($0))" } ?? ""): \(action.fixtureText)"]
        out.append("  model allows: \(envelope)")
        for note in envelope.notes { out.append("    because: \(note)") }
        if let observation { out.append("  kernel gave:  \(ObservationText.render(observation))") }
        if let event { out.append("  kernel event: \(event)") }
        for m in mismatches { out.append("  - \(m)") }
        return out
    }
}

/// How a replay ended.
public enum ReplayVerdict: Sendable {
    /// Every step ran and every answer was inside its envelope.
    case passed(steps: Int)
    case diverged(Divergence)
    /// The next step is one the model predicts crashes or reads freed memory; not run.
    case stoppedAtHazard(step: Int, reason: String)
    /// The kernel took an allowed branch (e.g. hugetlb mmap ENOMEM) after which the
    /// remaining steps no longer apply.
    case stoppedEarly(step: Int, reason: String)
    /// The worker could not be started.
    case couldNotRun(String)

    public var divergence: Divergence? {
        if case let .diverged(d) = self { return d }
        return nil
    }
}

/// Replays fixtures on the running kernel: the model computes each step's envelope, a
/// forked ``FixtureWorker`` performs the step, the answer is checked and the model
/// follows the kernel where the envelope allowed several results.
public struct FixtureReplayer: Sendable {
    public var generation: UAPIGeneration
    /// Run steps the model marks as hazards (they may oops the kernel) or as tripping a
    /// known kernel WARN (which fails the test through the kernel-log check).
    public var allowHazards = false
    /// Seconds one step may take before the worker counts as hung.
    public var stepTimeout: Double = 20
    /// Check /dev/kmsg after every step (a WARN or oops is a divergence of that step).
    public var watchKernelLog = true
    /// Where `file-create` makes its O_TMPFILE files.
    public var tmpDirectory = "/tmp"
    /// Trace the worker with KCOV in a buffer of this many 64-bit words (0: no coverage).
    /// Only the worker's own task is traced: a fixture's `fork` blocks run uncovered.
    public var kcovWords = 0

    public init(generation: UAPIGeneration) {
        self.generation = generation
    }

    /// Every answer is final: an unexpected answer is a divergence, never retried (a
    /// deterministic ENOENT from MIGRATE_TO_DEV is how a real migration bug shows).
    public func replay(_ fixture: Fixture) -> ReplayVerdict {
        replayCovered(fixture).verdict
    }

    /// What KCOV saw of one replay: the worker's PCs, or why there are none.
    public enum Coverage: Sendable {
        case sample(KCOVTrace.Sample)
        case unavailable(String)
    }

    /// ``replay(_:)``, with the worker's KCOV coverage when `kcovWords` > 0 (nil otherwise).
    /// The parent opens and maps the buffer; the worker enables it for itself before its
    /// first step; the parent drains it after each answer and once the worker has exited.
    public func replayCovered(_ fixture: Fixture) -> (verdict: ReplayVerdict, coverage: Coverage?) {
        var trace: KCOVTrace?
        var coverage: Coverage?
        if kcovWords > 0 {
            do { trace = try KCOVTrace(words: kcovWords) } catch { coverage = .unavailable("\(KCOVTrace.path): \(error)") }
        }
        let verdict = replay(fixture, trace: trace)
        if let trace {
            if case .diverged(let d) = verdict, d.event?.hasPrefix("hang") == true {
                coverage = .unavailable("the worker hung; its trace was not read")
            } else {
                let sample = trace.sample()
                coverage = sample.recorded == 0
                    ? .unavailable("no PCs recorded (KCOV_ENABLE failed in the worker, or no instrumented code ran)")
                    : .sample(sample)
            }
        }
        return (verdict, coverage)
    }

    private func replay(_ fixture: Fixture, trace: KCOVTrace?) -> ReplayVerdict {
        var replay = Replay(fixture)
        let worker = FixtureWorker(steps: fixture.steps, generation: generation, tmpDirectory: tmpDirectory, codec: fixture.data)
        var child: ConversingChild
        do {
            child = try ConversingChild.spawn { requests, reply in
                // A failure leaves the buffer empty, which the parent reports.
                try? trace?.enable()
                return worker.serve(requests, reply)
            }
        } catch {
            return .couldNotRun("could not fork the replay worker: \(error)")
        }
        let kernelLog = watchKernelLog ? try? KernelLogMark() : nil
        var ran = 0
        var hung = false
        var verdict: ReplayVerdict?
        while verdict == nil {
            let index = replay.index
            guard let (step, envelope) = replay.next() else {
                if !replay.isFinished {
                    let reason = replay.model.violation(of: fixture.steps[index].action) ?? "precondition failed"
                    verdict = .stoppedEarly(step: index, reason: reason)
                }
                break
            }
            if let hazard = envelope.hazard ?? envelope.kernelWarning.map({ "expected kernel warning: " + $0 }), !allowHazards {
                verdict = .stoppedAtHazard(step: index, reason: hazard)
                break
            }
            let answer = child.ask(String(index), deadline: monotonicSeconds() + stepTimeout)
            ran += 1
            // Between steps the worker waits for the next request: read its PCs so far, so one
            // long program does not fill the buffer.
            if case .line = answer { trace?.drain() }
            var observation: Observation?
            var event: String?
            switch answer {
            case let .line(line) where line.hasPrefix("O "):
                observation = ObservationText.decode(String(line.dropFirst(2)))
                if observation == nil { event = "worker: unreadable answer '\(line)'" }
            case let .line(line):
                event = "worker: " + (line.hasPrefix("X ") ? String(line.dropFirst(2)) : line)
            case .closed:
                // Reaped here, so the report says how it died; the final wait finds nothing.
                event = "crash: the replay worker \(waitForExit(child.pid)) during this step"
            case .timedOut:
                event = "hang: no answer after \(Int(stepTimeout)) s"
                hung = true
            }
            let faults = kernelLog?.records().filter(\.isFault) ?? []
            if !faults.isEmpty && envelope.kernelWarning == nil {
                event = (event.map { $0 + "; " } ?? "") + "kernel log: " + faults.map(\.text).joined(separator: " | ")
            }
            var mismatches: [Mismatch] = []
            if let observation {
                let projected = Self.project(observation, onto: envelope)
                mismatches = replay.record(projected)
            } else {
                replay.record(nil)
            }
            if event != nil || !mismatches.isEmpty {
                verdict = .diverged(Divergence(step: index, action: step.action, envelope: envelope,
                                               observation: observation.map { Self.project($0, onto: envelope) },
                                               mismatches: mismatches, event: event))
            }
        }
        if hung {
            child.abandon()
        } else {
            child.kill()
            _ = child.wait()
        }
        return verdict ?? .passed(steps: ran)
    }

    /// Keeps only the fields the envelope's outcome for the observed errno speaks about
    /// (a failed ioctl copies nothing back; a CPU write observes nothing but success).
    static func project(_ o: Observation, onto envelope: Envelope) -> Observation {
        guard let outcome = envelope.outcome(errno: o.errno) else { return Observation(errno: o.errno) }
        return Observation(errno: o.errno,
                           cpages: outcome.cpages == nil ? nil : o.cpages,
                           faults: outcome.faults == nil ? nil : o.faults,
                           tokens: outcome.tokens == nil ? nil : o.tokens,
                           snapshot: outcome.snapshot == nil ? nil : o.snapshot,
                           nodes: outcome.nodes == nil ? nil : o.nodes)
    }
}
