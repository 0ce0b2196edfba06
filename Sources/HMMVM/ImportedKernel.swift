import Foundation
import HMMSystem

/// A kernel that CI built elsewhere (tuxmake, KernelCI, a developer's `make`): a bzImage and
/// its modules, as `modules.tar.xz` or a `make modules_install` tree, made into the same
/// artifact directory hmmkit's own builds have, under $HMMKIT_CACHE/imported.
public enum ImportedKernel {
    /// Whether `path` is an x86 kernel image (the boot protocol's "HdrS" at 0x202).
    public static func isKernelImage(_ path: String) -> Bool {
        guard let bytes = prefix(of: path, count: 0x210) else { return false }
        return bytes.count >= 0x206 && Array(bytes[0x202..<0x206]) == Array("HdrS".utf8)
    }

    /// The release the image announces (its kernel_version string's first word).
    public static func release(ofImage path: String) -> String? {
        guard let header = prefix(of: path, count: 0x210), header.count >= 0x210 else { return nil }
        let offset = Int(header[0x20e]) | Int(header[0x20f]) << 8
        guard offset > 0, let text = prefix(of: path, count: offset + 0x200 + 256), text.count > offset + 0x200 else { return nil }
        let bytes = text[(offset + 0x200)...].prefix { $0 != 0 && $0 != 0x20 }
        let release = String(decoding: bytes, as: UTF8.self)
        return release.isEmpty ? nil : release
    }

    public static func artifacts(bzImage: String, modules: String, config: String?,
                                 progress: (String) -> Void) throws -> KernelArtifacts {
        let fm = FileManager.default
        guard isKernelImage(bzImage) else { throw HMMKitError("\(bzImage): not an x86 kernel image (no 'HdrS' boot header)") }
        guard fm.fileExists(atPath: modules) else { throw HMMKitError("\(modules): no such modules archive or directory") }
        let config = config ?? configBeside(bzImage)
        if let config, !fm.fileExists(atPath: config) { throw HMMKitError("\(config): no such kernel config") }
        let key = stableHash([bzImage, modules, config ?? ""].map { (try? GuestPayload.stamp($0)) ?? $0 }.joined())
        let artifacts = KernelArtifacts(directory: KernelCache.importedKernels + "/" + key)
        if fm.fileExists(atPath: artifacts.directory + "/done") { return artifacts }

        try? fm.removeItem(atPath: artifacts.directory)
        try fm.createDirectory(atPath: artifacts.directory + "/unpack", withIntermediateDirectories: true)
        let unpack = artifacts.directory + "/unpack"
        var isDirectory: ObjCBool = false
        _ = fm.fileExists(atPath: modules, isDirectory: &isDirectory)
        if isDirectory.boolValue {
            try fm.copyItem(atPath: modules, toPath: unpack + "/tree")
        } else {
            progress("unpacking \(modules)")
            try runTar(["-xf", modules, "-C", unpack])
        }
        guard let releaseDirectory = findModulesRelease(under: unpack) else {
            throw HMMKitError("\(modules): no lib/modules/<release>/modules.dep inside (not a modules_install tree?)")
        }
        let release = (releaseDirectory as NSString).lastPathComponent
        if let announced = Self.release(ofImage: bzImage), announced != release {
            throw HMMKitError("\(modules) holds modules for \(release), but \(bzImage) is \(announced)")
        }
        try fm.createDirectory(atPath: artifacts.modulesRoot, withIntermediateDirectories: true)
        try fm.moveItem(atPath: releaseDirectory, toPath: artifacts.modulesRoot + "/" + release)
        try fm.removeItem(atPath: unpack)
        try fm.copyItem(atPath: bzImage, toPath: artifacts.bzImage)
        if let config { try fm.copyItem(atPath: config, toPath: artifacts.configPath) }
        try Data((release + "\n").utf8).write(to: URL(fileURLWithPath: artifacts.directory + "/release"))
        try Data("imported \(bzImage) \(modules)\n".utf8).write(to: URL(fileURLWithPath: artifacts.directory + "/done"))
        progress("kernel \(release) imported at \(artifacts.directory)"
                 + (config == nil ? " (config: the guest's /proc/config.gz, if the kernel has one)" : ""))
        return artifacts
    }

    /// `config`, `.config` or `config-*` beside the image, as tuxmake and KernelCI leave it.
    static func configBeside(_ bzImage: String) -> String? {
        let directory = (bzImage as NSString).deletingLastPathComponent
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory)) ?? []).sorted()
        let name = names.first { $0 == "config" || $0 == ".config" } ?? names.first { $0.hasPrefix("config-") }
        return name.map { (directory.isEmpty ? "." : directory) + "/" + $0 }
    }

    /// The `<release>` directory holding modules.dep, at most four levels down.
    static func findModulesRelease(under root: String, depth: Int = 0) -> String? {
        if FileManager.default.fileExists(atPath: root + "/modules.dep") { return root }
        guard depth < 4, let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return nil }
        for name in names.sorted() {
            var isDirectory: ObjCBool = false
            let path = root + "/" + name
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
               let found = findModulesRelease(under: path, depth: depth + 1) {
                return found
            }
        }
        return nil
    }

    static func runTar(_ arguments: [String]) throws {
        let tar = try runProgram(["/bin/tar"] + arguments, input: .inherited, output: .inherited, error: .inherited)
        guard tar.termination == .exited(0) else {
            throw HMMKitError("tar \(arguments.joined(separator: " ")) exited \(tar.termination.status)")
        }
    }

    static func prefix(of path: String, count: Int) -> [UInt8]? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: count)).map { [UInt8]($0) }
    }
}
