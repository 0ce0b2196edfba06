/// A kernel fault as the console printed it, reduced to what stays the same when the same
/// bug strikes again: a title in syzkaller's style ("general protection fault in
/// rmap_walk_anon") and the top frames of its call trace. Addresses, offsets, PIDs, CPUs
/// and timestamps differ between boots and are dropped. Pure: tested on saved consoles.
public struct KernelFault: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case nullPointer = "null-pointer"
        case pageFault = "page-fault"
        case generalProtection = "general-protection"
        case bug
        case warning
        case softLockup = "soft-lockup"
        case hungTask = "hung-task"
        case rcuStall = "rcu-stall"
        case panic
    }

    public var kind: Kind
    /// "general protection fault in rmap_walk_anon".
    public var title: String
    /// Function names, innermost first, without offsets, compiler suffixes or unreliable
    /// (`? `) frames and without the fault-handling frames every oops has.
    public var frames: [String]
    /// Whether the frames below the faulting function are the unwinder's guesses: they
    /// may differ between two hits of one bug (stale stack words), so the signature leaves
    /// them out.
    public var framesAreGuesses: Bool

    /// Frames that take part in a signature: enough to tell two callers of one function
    /// apart, few enough that an unrelated difference deep in the stack does not split one bug.
    public static let signatureFrames = 4

    /// What collapses duplicates: the title plus the top frames.
    public var signature: String {
        framesAreGuesses ? title : ([title] + frames.prefix(Self.signatureFrames)).joined(separator: " < ")
    }

    public init(kind: Kind, title: String, frames: [String], framesAreGuesses: Bool = false) {
        self.kind = kind
        self.title = title
        self.frames = frames
        self.framesAreGuesses = framesAreGuesses
    }

    /// The first fault the lines report, or nil when they report none.
    public static func first(in lines: [String]) -> KernelFault? {
        let text = lines.map(stripTimestamp)
        guard let start = text.firstIndex(where: { faultKind(of: $0) != nil }), let kind = faultKind(of: text[start]) else {
            return nil
        }
        // The report runs to the next fault (a WARN followed by an oops is two reports); the
        // "Kernel panic" an oops ends with belongs to it.
        let end = text[(start + 1)...].firstIndex { faultKind(of: $0).map { $0 != .panic } ?? false } ?? text.count
        let report = Array(text[start..<end])
        let location = ripFunction(in: report)
        let (trace, guessed) = callTrace(in: report)
        // The faulting function heads the frames when the trace starts below it.
        var frames = trace
        if let location, frames.first != location { frames.insert(location, at: 0) }
        let place = location ?? trace.first
        return KernelFault(kind: kind, title: title(kind: kind, firstLine: text[start], place: place, report: report),
                           frames: frames, framesAreGuesses: guessed)
    }

    /// `[   12.345678] ` and `<4>` prefixes, and the `\r` a serial console adds.
    static func stripTimestamp(_ raw: String) -> String {
        var line = Substring(raw.filter { $0 != "\r" })
        if line.hasPrefix("<"), let close = line.firstIndex(of: ">"),
           line[line.index(after: line.startIndex)..<close].allSatisfy(\.isNumber) {
            line = line[line.index(after: close)...]
        }
        if line.hasPrefix("["), let close = line.firstIndex(of: "]"),
           line[line.index(after: line.startIndex)..<close].allSatisfy({ $0 == " " || $0 == "." || $0.isNumber }) {
            line = line[line.index(after: close)...]
        }
        return String(line.drop { $0 == " " })
    }

    static func faultKind(of line: String) -> Kind? {
        if line.hasPrefix("BUG: kernel NULL pointer dereference") { return .nullPointer }
        if line.hasPrefix("BUG: unable to handle page fault") || line.hasPrefix("BUG: unable to handle kernel paging request") {
            return .pageFault
        }
        if line.hasPrefix("general protection fault") || line.hasPrefix("Oops: general protection fault") { return .generalProtection }
        if line.hasPrefix("kernel BUG at ") || line.hasPrefix("BUG: Bad page") || line.hasPrefix("BUG: Bad rss-counter")
            || line.hasPrefix("BUG: sleeping function") || line.hasPrefix("BUG: scheduling while atomic") { return .bug }
        if line.hasPrefix("WARNING: ") && line.contains(" at ") { return .warning }
        if line.hasPrefix("watchdog: BUG: soft lockup") { return .softLockup }
        if line.hasPrefix("INFO: task ") && line.contains("blocked for more than") { return .hungTask }
        if line.hasPrefix("rcu: INFO: ") && line.contains("stall") { return .rcuStall }
        if line.hasPrefix("Kernel panic - not syncing") { return .panic }
        return nil
    }

    static func title(kind: Kind, firstLine: String, place: String?, report: [String]) -> String {
        let suffix = place.map { " in " + $0 } ?? ""
        switch kind {
        case .nullPointer: return "BUG: kernel NULL pointer dereference" + suffix
        case .pageFault: return "BUG: unable to handle page fault" + suffix
        case .generalProtection: return "general protection fault" + suffix
        case .bug:
            // "kernel BUG at mm/migrate.c:123!" keeps its place: the line is the bug's identity.
            if firstLine.hasPrefix("kernel BUG at ") {
                let at = firstLine.dropFirst("kernel BUG at ".count).prefix { $0 != "!" }
                return "kernel BUG at " + dropLineNumber(String(at)) + suffix
            }
            // "BUG: Bad page state in process hmmkit  pfn:1234" → "BUG: Bad page state".
            let body = firstLine.dropFirst("BUG: ".count)
            var cut = body.endIndex
            for marker in [" in process", " at ", ",", ":"] {
                if let r = body.range(of: marker), r.lowerBound < cut { cut = r.lowerBound }
            }
            return "BUG: " + body[..<cut] + suffix
        case .warning:
            // "WARNING: CPU: 0 PID: 97 at lib/test_hmm.c:280 dmirror_fops_release+0x4d/0x90 [test_hmm]"
            var file = ""
            if let at = firstLine.range(of: " at ") {
                file = String(firstLine[at.upperBound...].prefix { $0 != " " })
            }
            let function = firstLine.split(separator: " ").last.flatMap { word in frameName(String(word)) }
            return "WARNING in " + (function ?? place ?? (file.isEmpty ? "?" : dropLineNumber(file)))
        case .softLockup: return "soft lockup" + suffix
        case .hungTask:
            let task = firstLine.dropFirst("INFO: task ".count).prefix { $0 != ":" }
            return "task \(task) blocked" + (report.isEmpty ? "" : suffix)
        case .rcuStall: return "rcu stall" + suffix
        case .panic:
            // Up to the first value that changes between boots (exitcode=0x9, an address).
            let words = firstLine.dropFirst("Kernel panic - not syncing: ".count).split(separator: " ")
            let kept = words.prefix { !$0.contains("=") && !$0.hasPrefix("0x") && !$0.allSatisfy(\.isNumber) }
            return "kernel panic: " + String(kept.joined(separator: " ").prefix { $0 != ":" && $0 != "," }.prefix(80))
        }
    }

    /// "mm/migrate.c:123" → "mm/migrate.c": line numbers move with unrelated patches.
    static func dropLineNumber(_ place: String) -> String {
        guard let colon = place.lastIndex(of: ":"), place[place.index(after: colon)...].allSatisfy(\.isNumber) else { return place }
        return String(place[..<colon])
    }

    /// "RIP: 0010:dmirror_do_read+0x8a/0x1c0 [test_hmm]" → "dmirror_do_read".
    static func ripFunction(in report: [String]) -> String? {
        for line in report where line.hasPrefix("RIP: ") {
            let rest = line.dropFirst("RIP: ".count)
            let symbol = rest.split(separator: ":", maxSplits: 1).last.map(String.init) ?? String(rest)
            if let name = frameName(symbol.split(separator: " ").first.map(String.init) ?? symbol) { return name }
        }
        return nil
    }

    /// The frames of the first "Call Trace:", innermost first: the reliable ones, or the
    /// unwinder's guesses (`? `) when it printed nothing else (a kernel without frame
    /// pointers or ORC marks every frame so).
    static func callTrace(in report: [String]) -> (frames: [String], guessed: Bool) {
        guard let start = report.firstIndex(where: { $0.hasPrefix("Call Trace:") }) else { return ([], false) }
        var reliable: [String] = []
        var guessed: [String] = []
        for line in report[(start + 1)...] {
            if line.hasPrefix("</TASK>") || line.hasPrefix("</IRQ>") { break }
            if line.hasPrefix("<") { continue }  // <TASK>, <IRQ>
            let isGuess = line.hasPrefix("? ")
            let word = (isGuess ? line.dropFirst(2) : Substring(line)).split(separator: " ").first.map(String.init) ?? ""
            guard let name = frameName(word) else { break }
            if isFaultHandling(name) {
                reliable.removeAll()
                guessed.removeAll()
                continue
            }
            if isGuess { guessed.append(name) } else { reliable.append(name) }
        }
        return reliable.isEmpty ? (guessed, !guessed.isEmpty) : (reliable, false)
    }

    /// "migrate_device_finalize.constprop.0+0x1a2/0x3c0" → "migrate_device_finalize";
    /// nil for what is no frame.
    static func frameName(_ word: String) -> String? {
        guard let plus = word.firstIndex(of: "+"), word[plus...].contains("/0x") else { return nil }
        var name = Substring(word[..<plus])
        if let dot = name.firstIndex(of: ".") { name = name[..<dot] }
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { return nil }
        return String(name)
    }

    /// Frames of the fault's own handling: everything up to the last of them is the
    /// reporting machinery, not the bug.
    static func isFaultHandling(_ name: String) -> Bool {
        let exact: Set = ["die", "__die", "__die_body", "do_trap", "do_error_trap", "handle_bug", "report_bug", "__warn",
                          "page_fault_oops", "do_user_addr_fault", "kernelmode_fixup_or_oops", "__bad_area_nosemaphore",
                          "bad_area_nosemaphore", "spurious_kernel_fault", "fixup_exception", "show_regs", "dump_stack",
                          "dump_stack_lvl", "panic", "oops_end", "do_int3", "do_int3_user", "die_addr"]
        return exact.contains(name) || name.hasPrefix("asm_exc_") || name.hasPrefix("exc_")
    }
}
