import Foundation

/// The kernel-versus-model report of a campaign, as markdown: crashes with their
/// reproducers, then WARNs and hangs, then divergences grouped by operation.
public enum FuzzReport {
    public static func markdown(_ state: CampaignState, directory: String) -> String {
        var out: [String] = []
        let rate = state.seconds > 0 ? Double(state.execs) / state.seconds : 0
        out.append("# Fuzz campaign on \(state.release)")
        out.append("")
        let devices = state.generator.devices.map(String.init).joined(separator: ",")
        let nodes = state.generator.nodes.map(String.init).joined(separator: ",")
        out.append("- kernel: `\(state.kernel)`; profile \(state.generator.profile); \(state.generator.steps) steps per program; "
                   + "devices \(devices), nodes \(nodes), THP \(state.generator.thp)")
        out.append(String(format: "- %d programs (seeds %llu..%llu) in %@, %.2f execs/s, %d boots, %d batches",
                          state.execs, state.firstSeed, state.nextSeed &- 1, FuzzCampaign.clock(state.seconds), rate,
                          state.boots, state.batches))
        out.append("")
        for kind in FuzzEvent.Kind.allCases {
            let events = state.events.enumerated().filter { $0.element.kind == kind }
            out.append("## \(heading(kind)) (\(events.count) distinct, \(events.reduce(0) { $0 + $1.element.count }) in all)")
            out.append("")
            if events.isEmpty { out.append("None."); out.append(""); continue }
            if kind == .divergence {
                // Grouped by the operation that diverged: the signature's first part.
                let groups = Dictionary(grouping: events) {
                    String($0.element.signature.prefix { $0 != "/" }).trimmingCharacters(in: .whitespaces)
                }
                for operation in groups.keys.sorted() {
                    out.append("### `\(operation)` (profile \(state.generator.profile))")
                    out.append("")
                    out += table(groups[operation]!.map(\.element), directory: directory)
                    out.append("")
                }
            } else {
                out += table(events.map(\.element), directory: directory)
                out.append("")
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func heading(_ kind: FuzzEvent.Kind) -> String {
        switch kind {
        case .crash: "Crashes"
        case .warning: "Kernel warnings"
        case .hang: "Hangs"
        case .divergence: "Divergences from the model"
        }
    }

    static func table(_ events: [CampaignState.EventRecord], directory: String) -> [String] {
        var out = ["| signature | count | first seed | reproduction | files |", "|---|---|---|---|---|"]
        for e in events {
            let files = e.files.map { "[\(($0 as NSString).lastPathComponent)](\($0))" }.joined(separator: " ")
            out.append("| `\(cell(e.signature))` | \(e.count) | \(e.firstSeed) | \(e.reproduction.summary) | \(files) |")
        }
        return out
    }

    static func cell(_ text: String) -> String {
        String(text.map { $0 == "|" ? "/" : $0 == "`" ? "'" : $0 }.prefix(200))
    }
}
