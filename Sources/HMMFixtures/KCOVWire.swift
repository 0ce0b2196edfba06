/// How a replay's KCOV coverage travels from the guest to the host: KTAP diagnostic lines of
/// the program's own result, so the programs of a boot that later crashes keep theirs.
///
///     kcov: 2311 PCs (184022 recorded), 97 new in this boot
///     kcov-pcs: ffffffff811a2b30 +1c +2e ...
///
/// A `kcov-pcs:` line lists sorted canonical PCs: the first in hex, then each as the hex
/// difference from the one before. The guest sends only PCs no earlier program of the same
/// boot sent; the host's signal is the union, so a program that adds to it always says so.
///
/// Canonical PCs: a kernel PC as KCOV gives it (the kernel has no KASLR; its text lies at
/// 0xffffffff8…), and a module PC as `0x0000_TTTT_OOOO_OOOO`: a 16-bit tag of the module's
/// section name and the 32-bit offset into that section, the same wherever the module loads.
public enum KCOVWire {
    public static let summaryPrefix = "kcov: "
    public static let pcsPrefix = "kcov-pcs: "
    /// PCs per `kcov-pcs:` line (about 4 characters each once sorted).
    public static let perLine = 64

    /// Kernel text (and modules) lie in the top 2 GiB of the address space on x86-64.
    public static func isKernelPC(_ pc: UInt64) -> Bool { pc >= 0xffff_ffff_8000_0000 }

    /// A module PC's canonical form; nil when the offset does not fit 32 bits.
    public static func modulePC(section: String, offset: UInt64) -> UInt64? {
        guard offset < 1 << 32 else { return nil }
        return sectionTag(section) << 32 | offset
    }

    public static func isModulePC(_ pc: UInt64) -> Bool { pc >> 48 == 0 && pc >> 32 != 0 }

    /// A nonzero 16-bit tag of a section name (FNV-1a), stable across processes and machines.
    static func sectionTag(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return (hash & 0xfffe) + 1
    }

    /// Whether a diagnostic line belongs to the coverage wire (hosts leave them out of events' evidence).
    public static func isWireLine(_ line: String) -> Bool {
        line.hasPrefix(summaryPrefix) || line.hasPrefix(pcsPrefix)
    }

    /// The lines for `pcs` (sorted and distinct).
    public static func encode(_ pcs: [UInt64]) -> [String] {
        var lines: [String] = []
        var start = 0
        while start < pcs.count {
            let chunk = pcs[start..<min(start + perLine, pcs.count)]
            var words = [String(chunk.first!, radix: 16)]
            var previous = chunk.first!
            for pc in chunk.dropFirst() {
                words.append("+" + String(pc &- previous, radix: 16))
                previous = pc
            }
            lines.append(pcsPrefix + words.joined(separator: " "))
            start += perLine
        }
        return lines
    }

    /// The PCs of one `kcov-pcs:` line; nil when the line is not one, or is malformed
    /// (a guest's output is untrusted: no value may trap the host).
    public static func decode(line: String) -> [UInt64]? {
        guard line.hasPrefix(pcsPrefix) else { return nil }
        var pcs: [UInt64] = []
        var previous: UInt64?
        for word in line.dropFirst(pcsPrefix.count).split(separator: " ") {
            if word.hasPrefix("+") {
                guard let base = previous, let delta = UInt64(word.dropFirst(), radix: 16) else { return nil }
                let (next, overflow) = base.addingReportingOverflow(delta)
                guard !overflow else { return nil }
                previous = next
            } else {
                guard previous == nil, let value = UInt64(word, radix: 16) else { return nil }
                previous = value
            }
            pcs.append(previous!)
        }
        return pcs
    }

    /// Every PC the lines of one result carry, and how many lines were malformed.
    public static func pcs(in diagnostics: [String]) -> (pcs: [UInt64], malformed: Int) {
        var all: [UInt64] = []
        var malformed = 0
        for line in diagnostics where line.hasPrefix(pcsPrefix) {
            if let pcs = decode(line: line) { all += pcs } else { malformed += 1 }
        }
        return (all, malformed)
    }
}
