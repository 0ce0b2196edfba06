import HMMFixtures
import KTAP

/// What one generated program did to the kernel, read from its KTAP result: nothing worth
/// keeping, or an event with a signature that collapses duplicates.
public struct FuzzEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        /// The kernel oopsed, panicked or hit a BUG: the VM died during the program.
        case crash
        /// A WARN (or another fault the kernel survived) in the kernel log during a step.
        case warning
        /// No output for the stall timeout: the VM was killed.
        case hang
        /// The kernel answered outside the model's envelope.
        case divergence
    }

    public var kind: Kind
    /// Crash: the fault's title and top frames; divergence: the step kind and the fields
    /// that differed (the replayer's own signature); hang: the last step it printed.
    public var signature: String
    /// The lines that show it (the console from the fault, or the divergence report).
    public var evidence: [String]

    public init(kind: Kind, signature: String, evidence: [String]) {
        self.kind = kind
        self.signature = signature
        self.evidence = evidence
    }

    /// The prefix the VM relay gives console lines it attaches to a test the VM died in.
    public static let consoleMarker = "console: "

    /// The event of one replayed program, nil when it passed, skipped, or stopped where the
    /// model said it must.
    public static func classify(_ result: KTAPTestCase) -> FuzzEvent? {
        switch result.status {
        case .pass, .skip, .xfail: return nil
        case .fail, .xpass, .error, .timeout: break
        }
        let console = result.diagnostics.compactMap { line in
            line.hasPrefix(consoleMarker) ? String(line.dropFirst(consoleMarker.count)) : nil
        }
        if result.status == .timeout {
            let fault = KernelFault.first(in: console)
            return FuzzEvent(kind: fault == nil ? .hang : .crash,
                             signature: fault?.signature ?? "hang: " + (lastStep(result.diagnostics) ?? "no step printed"),
                             evidence: console)
        }
        if !console.isEmpty {
            // The VM died during the program: the console says why.
            if let fault = KernelFault.first(in: console) {
                return FuzzEvent(kind: .crash, signature: fault.signature, evidence: console)
            }
            return FuzzEvent(kind: .crash, signature: "VM died: " + (result.reason ?? "no fault on the console"), evidence: console)
        }
        // The guest survived: a kernel-log fault during a step, or a wrong answer.
        let kernelLog = result.diagnostics.flatMap { line -> [String] in
            guard let range = line.range(of: "kernel log: ") else { return [] }
            return line[range.upperBound...].components(separatedBy: " | ")
        }
        if let fault = KernelFault.first(in: kernelLog) {
            let kind: Kind = fault.kind == .warning ? .warning : .crash
            return FuzzEvent(kind: kind, signature: fault.signature, evidence: result.diagnostics)
        }
        if let marked = result.diagnostics.first(where: { $0.hasPrefix(ReplayDiagnostics.divergenceSignature) }) {
            let signature = String(marked.dropFirst(ReplayDiagnostics.divergenceSignature.count))
            return FuzzEvent(kind: .divergence, signature: signature, evidence: result.diagnostics)
        }
        return FuzzEvent(kind: .divergence, signature: "failed: " + (result.reason ?? "no reason"), evidence: result.diagnostics)
    }

    /// Whether the kernel may be left broken after it: the rest of the boot means nothing.
    public var breaksKernel: Bool { kind == .crash || kind == .hang }

    static func lastStep(_ diagnostics: [String]) -> String? {
        diagnostics.last { $0.hasPrefix("step ") }
    }
}
