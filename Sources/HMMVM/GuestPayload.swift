import Foundation
import HMMGuest
import HMMKernel
import HMMSystem
import KTAP

/// The guest payload: everything a test VM runs, taken from the host once and then needing
/// nothing from it. It holds hmmkit (Swift's runtime linked statically when built with
/// `--static-swift-stdlib`, as scripts/main-job does), the C libraries it loads (glibc,
/// libkmod, libnuma and theirs, shipped as the host has them), and the fixtures.
///
/// As an initramfs (`hmmkit-payload.cpio`) it boots with any x86_64 bzImage that has
/// CONFIG_BLK_DEV_INITRD; hmmkit is its /init (see `GuestInit`).
public struct GuestPayload: Sendable {
    public var directory: String
    public var initramfs: String { directory + "/hmmkit-payload.cpio" }
    /// The same files for an existing root filesystem (LAVA's and tuxrun's overlay form),
    /// under /opt/hmmkit, run through their own dynamic linker whatever the rootfs's glibc.
    public var overlay: String { directory + "/hmmkit-overlay.tar.gz" }
    /// One line per file: guest path, host path.
    public var manifest: String { directory + "/MANIFEST" }

    public init(directory: String) { self.directory = directory }

    /// The payload for the running hmmkit, built once per executable and fixture set and
    /// cached under $HMMKIT_CACHE/payloads.
    public static func cached(progress: (String) -> Void) throws -> GuestPayload {
        let executable = GuestExecutable.choose(beside: Repository.executable, progress: progress)
        let fixtures = (try? Repository.root()).map { $0 + "/Fixtures" }
        let key = try identity(executable: executable, fixtures: fixtures)
        let payload = GuestPayload(directory: KernelCache.root + "/payloads/" + key)
        if FileManager.default.fileExists(atPath: payload.initramfs) {
            // Marks it used, for ``prune(_:keeping:current:grace:now:)``.
            try? FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: payload.directory)
            return payload
        }
        try build(into: payload.directory, executable: executable, fixtures: fixtures, progress: progress)
        pruneCache(keeping: payload.directory, progress: progress)
        return payload
    }

    /// How many payloads the cache keeps. Every build of hmmkit or change of Fixtures/ makes
    /// a new one of some 90 MiB, so without a bound a developer's cache grows by gigabytes a
    /// day.
    public static let cachedPayloads = 6
    /// A payload used this recently stays even beyond ``cachedPayloads``: another hmmkit (a
    /// fuzz job, a second VM) may be about to copy it into its boot directory.
    public static let payloadGraceSeconds: Double = 3600

    /// Of the cached payloads (directory, last use), those to delete: all but the `keep` most
    /// recently used, except `current` and any used within `grace` seconds of `now`.
    public static func prune(_ payloads: [(directory: String, used: Date)], keeping keep: Int, current: String,
                             grace: Double, now: Date) -> [String] {
        let newestFirst = payloads.sorted { $0.used > $1.used }
        return newestFirst.dropFirst(keep)
            .filter { $0.directory != current && now.timeIntervalSince($0.used) > grace }
            .map(\.directory)
    }

    static func pruneCache(keeping current: String, progress: (String) -> Void) {
        let root = KernelCache.root + "/payloads"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let payloads = names.compactMap { name -> (directory: String, used: Date)? in
            let directory = root + "/" + name
            return GuestExecutable.modified(directory).map { (directory, $0) }
        }
        let stale = prune(payloads, keeping: cachedPayloads, current: current, grace: payloadGraceSeconds, now: Date())
        for directory in stale { try? FileManager.default.removeItem(atPath: directory) }
        if !stale.isEmpty { progress("payload cache: removed \(stale.count) payload(s) unused for an hour, kept \(cachedPayloads)") }
    }

    /// Builds the payload into `directory` (created if needed; its archive is replaced).
    @discardableResult
    public static func build(into directory: String, executable chosen: String? = nil, fixtures: String?,
                             overlay: Bool = false, progress: (String) -> Void) throws -> GuestPayload {
        let executable = chosen ?? GuestExecutable.choose(beside: Repository.executable, progress: progress)
        let payload = GuestPayload(directory: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let shipped = try withoutDebugInfo(executable, in: directory)
        defer { if shipped != executable { try? FileManager.default.removeItem(atPath: shipped) } }
        var files: [(guest: String, host: String)] = [(GuestLayout.executable, shipped)]
        for library in try SharedLibraries.needed(by: executable) { files.append((library, library)) }
        if let fixtures, FileManager.default.fileExists(atPath: fixtures) {
            for relative in try regularFiles(under: fixtures) {
                files.append((GuestLayout.fixtures + "/" + relative, fixtures + "/" + relative))
            }
        } else {
            progress("no Fixtures/ directory found: the payload holds no fixtures")
        }
        // A name of its own: concurrent VMs (fuzz --jobs) may build the same payload at once,
        // and each renames a complete archive over the cached one.
        let temporary = payload.initramfs + ".partial-" + UUID().uuidString
        var archive = try CPIOArchive(path: temporary)
        for directory in ["/proc", "/sys", "/dev", "/run", "/root", "/hmmkit"] { try archive.directory(directory) }
        try archive.directory("/tmp", mode: 0o1777)
        // The kernel opens /dev/console for /init's standard streams before devtmpfs is mounted.
        try archive.characterDevice("/dev/console", major: 5, minor: 1)
        for file in files { try archive.file(file.guest, copying: file.host) }
        try archive.symlink(GuestLayout.initLink, to: String(GuestLayout.executable.dropFirst()))
        try archive.file(GuestLayout.payloadMarker, bytes: Array("hmmkit payload for \(executable)\n".utf8))
        let size = archive.bytesWritten
        try archive.finish()
        try AtomicWriter.commit(temporary, to: payload.initramfs)
        try AtomicWriter.write(files.map { file in
            let host = file.host == shipped && shipped != executable ? executable + " (debug info stripped)" : file.host
            return "\(file.guest)\t\(host)\n"
        }.joined(), to: payload.manifest)
        progress(String(format: "payload: %d files, %.1f MiB, at %@", files.count, Double(size) / 1048576, payload.initramfs))
        if overlay { try writeOverlay(payload, files: files, progress: progress) }
        return payload
    }

    /// A copy of `executable` without its DWARF sections (symbols stay, so a backtrace still
    /// names functions): about a tenth of a static build, and under TCG the kernel unpacks the
    /// initramfs at some 40 MiB/s before the first test can start. Without objcopy, or if it
    /// fails, the executable goes in as it is.
    static func withoutDebugInfo(_ executable: String, in directory: String) throws -> String {
        let objcopy = "/usr/bin/objcopy"
        guard FileManager.default.isExecutableFile(atPath: objcopy) else { return executable }
        let stripped = directory + "/hmmkit.stripped-" + UUID().uuidString
        let result = try runProgram([objcopy, "--strip-debug", executable, stripped], output: .discarded, error: .discarded)
        guard result.termination == .exited(0) else {
            try? FileManager.default.removeItem(atPath: stripped)
            return executable
        }
        return stripped
    }

    static let overlayRoot = "opt/hmmkit"

    /// bin/hmmkit is a wrapper that starts the real binary through the shipped ld.so with
    /// the shipped libraries; fixtures are in share/Fixtures.
    static func writeOverlay(_ payload: GuestPayload, files: [(guest: String, host: String)], progress: (String) -> Void) throws {
        let fm = FileManager.default
        let staging = payload.directory + "/overlay.staging"
        try? fm.removeItem(atPath: staging)
        let root = staging + "/" + overlayRoot
        for sub in ["bin", "lib", "share"] { try fm.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true) }
        var loader = "ld-linux-x86-64.so.2"
        for file in files {
            let destination: String
            if file.guest == GuestLayout.executable {
                destination = root + "/bin/hmmkit.bin"
            } else if file.guest.hasPrefix(GuestLayout.fixtures) {
                destination = root + "/share/Fixtures" + file.guest.dropFirst(GuestLayout.fixtures.count)
            } else {
                destination = root + "/lib/" + (file.guest as NSString).lastPathComponent
                if file.guest.contains("/ld-linux") { loader = (file.guest as NSString).lastPathComponent }
            }
            try fm.createDirectory(atPath: (destination as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try fm.copyItem(atPath: file.host, toPath: destination)
        }
        let wrapper = """
            #!/bin/sh
            # hmmkit from this overlay, with the glibc and libraries it was built against.
            here=$(dirname "$(readlink -f "$0")")/..
            exec "$here/lib/\(loader)" --library-path "$here/lib" "$here/bin/hmmkit.bin" "$@"

            """
        try Data(wrapper.utf8).write(to: URL(fileURLWithPath: root + "/bin/hmmkit"))
        try fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: root + "/bin/hmmkit")
        try ImportedKernel.runTar(["-C", staging, "--owner=0", "--group=0", "--numeric-owner", "--mtime=@0", "--sort=name",
                                   "-czf", payload.overlay, overlayRoot.split(separator: "/").first.map(String.init) ?? "opt"])
        try fm.removeItem(atPath: staging)
        progress("overlay: \(payload.overlay) (hmmkit at /\(overlayRoot)/bin/hmmkit)")
    }

    /// Changes whenever the executable or the fixtures change.
    static func identity(executable: String, fixtures: String?) throws -> String {
        var text = try stamp(executable)
        if let fixtures, FileManager.default.fileExists(atPath: fixtures) {
            for relative in try regularFiles(under: fixtures) { text += relative + (try stamp(fixtures + "/" + relative)) }
        }
        return stableHash(text)
    }

    static func stamp(_ path: String) throws -> String {
        let a = try FileManager.default.attributesOfItem(atPath: path)
        let modified = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(path):\(a[.size] ?? 0):\(modified)\n"
    }

    /// Regular files under `root`, as sorted relative paths.
    static func regularFiles(under root: String) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var result: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if (enumerator.fileAttributes?[.type] as? FileAttributeType) == .typeRegular { result.append(relative) }
        }
        return result.sorted()
    }
}

/// Which executable the payload ships as /bin/hmmkit: `hmmkit-guest` from the same build
/// directory (the suite's commands without Foundation, so without ICU's 40 MiB of data),
/// unless it is missing or older than an object file it is linked from; then hmmkit itself,
/// which runs the same commands, only from a bigger initramfs.
public enum GuestExecutable {
    public static let name = "hmmkit-guest"

    public static func choose(beside host: String, progress: (String) -> Void) -> String {
        if (host as NSString).lastPathComponent == name { return host }
        let directory = (host as NSString).deletingLastPathComponent
        let guest = directory + "/" + name
        guard let built = modified(guest) else {
            progress("payload: no \(name) beside \(host); shipping hmmkit itself "
                     + "(swift build --product \(name) makes the payload ~50 MiB smaller)")
            return host
        }
        if let stale = newerObject(than: built, linkedInto: directory + "/" + name + ".product") {
            progress("payload: \(guest) is older than \(stale); shipping hmmkit itself (rebuild with swift build --product \(name))")
            return host
        }
        return guest
    }

    /// An object file newer than `date` among those SwiftPM linked into the product (its
    /// `Objects.LinkFileList`): then the product was not relinked since. Without the list
    /// (a copy outside a build directory) nothing is known to be stale.
    static func newerObject(than date: Date, linkedInto product: String) -> String? {
        guard let list = try? String(contentsOfFile: product + "/Objects.LinkFileList", encoding: .utf8) else { return nil }
        for line in list.split(separator: "\n") {
            // SwiftPM quotes a path with spaces.
            let object = line.trimmingCharacters(in: CharacterSet(charactersIn: "\" \t"))
            if let time = modified(object), time > date { return object }
        }
        return nil
    }

    static func modified(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}

/// FNV-1a, 64 bits, as 16 hex digits: a cache key that is the same in every process.
func stableHash(_ text: String) -> String { StableHash.hex(text) }


/// The shared libraries a dynamically linked program loads, with its ELF interpreter, as
/// the host's dynamic linker resolves them (ldd).
public enum SharedLibraries {
    public static func needed(by program: String) throws -> [String] {
        let ldd = try runProgram(["/usr/bin/ldd", program], input: .inherited, error: .discarded)
        // A static program: ldd says "not a dynamic executable" and exits 1.
        if ldd.termination != .exited(0) { return [] }
        return try parse(ldd.output, program: program)
    }

    /// `name => /path (0x...)` and `/lib64/ld-linux-x86-64.so.2 (0x...)` lines; a library
    /// ldd could not find is an error (the guest would fail to start the program).
    static func parse(_ text: String, program: String) throws -> [String] {
        var result: [String] = []
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let arrow = words.firstIndex(of: "=>") {
                let target = words.index(after: arrow)
                guard target < words.endIndex, words[target] != "not" else {
                    let ldd = line.trimmingCharacters(in: .whitespaces)
                    throw HMMKitError("\(program): needs \(words.first ?? "?"), which this host does not have (ldd: \(ldd))")
                }
                if words[target].hasPrefix("/") { result.append(String(words[target])) }
            } else if let first = words.first, first.hasPrefix("/") {
                result.append(String(first))
            }
        }
        return result
    }
}
