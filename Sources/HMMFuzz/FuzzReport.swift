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
        if let guidance = state.guidance { out += coverage(guidance) }
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

    /// A guided campaign's coverage: the corpus, the signal by file and over time.
    static func coverage(_ g: GuidanceState) -> [String] {
        var out = ["## Coverage guidance (KCOV)", ""]
        let signal = g.history.last?.signal ?? 0
        out.append("- signal: \(signal) PCs in mm/hmm.c, mm/migrate_device.c, mm/memory.c, mm/rmap.c and lib/test_hmm.c "
                   + "(the replay worker's own task; fork blocks are not traced)")
        out.append("- corpus: \(g.corpus.count) programs (`corpus/`): \(g.generatedKept) of \(g.generated) generated programs "
                   + "and \(g.mutatedKept) of \(g.mutated) mutants added coverage; \(g.uncovered) programs sent none")
        if g.malformedLines > 0 { out.append("- \(g.malformedLines) coverage lines from the guest did not decode") }
        if !g.signalByFile.isEmpty {
            out += ["", "| file | PCs |", "|---|---:|"]
            for (file, pcs) in g.signalByFile.sorted(by: { $0.key < $1.key }) { out.append("| \(file) | \(pcs) |") }
            // A hook the compiler tail-calls records its caller's return address, often in another file.
            out.append("| (outside their functions) | \(g.unmappedSignal) |")
        }
        if !g.history.isEmpty {
            out += ["", "| time | execs | signal | corpus |", "|---|---:|---:|---:|"]
            // At most about 20 rows: every k-th round and the last.
            let step = max(1, g.history.count / 20)
            for (i, p) in g.history.enumerated() where i % step == 0 || i == g.history.count - 1 {
                out.append("| \(FuzzCampaign.clock(p.seconds)) | \(p.execs) | \(p.signal) | \(p.corpus) |")
            }
        }
        out.append("")
        return out
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
