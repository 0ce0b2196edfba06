import HMMFixtures
import HMMKernel
import HMMSystem

/// The guest side of guided fuzzing's coverage: a replay's KCOV PCs in canonical form
/// (``KCOVWire``), less those an earlier program of this boot already reported, as
/// diagnostic lines of the program's own result.
enum ReplayCoverage {
    /// The PCs reported in this boot so far: one hex PC a line, in a file named after the
    /// boot's id, so a new boot (or another machine) starts empty.
    static func bootFile(tmpDirectory: String) -> String {
        let id = (try? readTextFile("/proc/sys/kernel/random/boot_id"))?.trimmed ?? "unknown"
        return tmpDirectory + "/hmmkit-kcov-" + id + ".pcs"
    }

    /// Canonical PCs of `raw` (sorted, distinct) and how many were neither kernel text nor
    /// in one of `module`'s code sections.
    static func canonical(_ raw: [UInt64], module: ModuleSections?) -> (pcs: [UInt64], dropped: Int) {
        var out = Set<UInt64>()
        var dropped = 0
        for pc in raw {
            if let (name, offset) = module?.locate(pc), let canonical = KCOVWire.modulePC(section: name, offset: offset) {
                out.insert(canonical)
            } else if KCOVWire.isKernelPC(pc) {
                out.insert(pc)
            } else {
                dropped += 1
            }
        }
        return (out.sorted(), dropped)
    }

    /// The lines for one replay's coverage; records its new PCs in the boot file.
    static func lines(_ coverage: FixtureReplayer.Coverage, tmpDirectory: String) -> [String] {
        guard case let .sample(sample) = coverage else {
            if case let .unavailable(why) = coverage { return [KCOVWire.summaryPrefix + "none: " + why] }
            return []
        }
        let (pcs, dropped) = canonical(sample.pcs, module: ModuleSections.read(module: "test_hmm"))
        let file = bootFile(tmpDirectory: tmpDirectory)
        var seen = Set<UInt64>()
        if let text = try? readTextFile(file, limit: 64 << 20) {
            for line in text.split(separator: "\n") { if let pc = UInt64(line, radix: 16) { seen.insert(pc) } }
        }
        let fresh = pcs.filter { !seen.contains($0) }
        var note = ""
        if !fresh.isEmpty {
            let all = (seen.union(fresh)).sorted().map { String($0, radix: 16) }.joined(separator: "\n") + "\n"
            do { try createTextFile(file, all) } catch { note = "; cannot record them in \(file): \(error)" }
        }
        var summary = "\(pcs.count) PCs (\(sample.recorded) recorded\(sample.full ? ", buffer full" : "")), "
            + "\(fresh.count) new in this boot"
        if dropped > 0 { summary += ", \(dropped) outside kernel text and test_hmm" }
        return [KCOVWire.summaryPrefix + summary + note] + KCOVWire.encode(fresh)
    }
}
