import FoundationEssentials
import HMMSystem

/// What the guest's init runs, from the boot archive the host added; booted on its own
/// (a lab that has only the payload), the whole suite on the payload's fixtures.
public struct BootPlan: Equatable, Sendable {
    public var command: [String]
    public var workingDirectory: String
    public var environment: [String]
    public var ktapDevice: String?
    public var channelDevice: String?

    /// Reads the plan from the root filesystem (see `GuestLayout.Boot`).
    public static func read(release: String, kernelCommandLine: String) -> BootPlan {
        func line(_ path: String) -> String? {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
            let trimmed = text.trimmed
            return trimmed.isEmpty ? nil : trimmed
        }
        let hostCommand = FileManager.default.contents(atPath: GuestLayout.Boot.command)
            .map { $0.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) } }?
            .filter { !$0.isEmpty }
        let config = FileManager.default.fileExists(atPath: GuestLayout.Boot.kernelConfig) ? GuestLayout.Boot.kernelConfig : nil
        let passed = line(GuestLayout.Boot.environment)?.split(separator: "\n").map(String.init) ?? []
        return make(hostCommand: hostCommand, workingDirectory: line(GuestLayout.Boot.workingDirectory),
                    kernelConfig: config, hostEnvironment: passed, ktapDevice: line(GuestLayout.Boot.ktapDevice),
                    channelDevice: line(GuestLayout.Boot.channelDevice), release: release,
                    kernelCommandLine: kernelCommandLine,
                    fixtureDirectoryExists: { FileManager.default.fileExists(atPath: $0) })
    }

    /// The host's own variables it passes on into the guest command's environment (see
    /// ``GuestLayout/Boot/environment``).
    public static let hostVariables = ["HMMKIT_GIT_COMMIT"]
    /// The name of the kernel's configuration, which the host sets from the kernel's build
    /// (``configNameVariable``); results say it as KCIDB's `config_name`.
    public static let configNameVariable = "HMMKIT_CONFIG_NAME"
    /// How the kselftest-named tests run the reference model (`HMMSuite`'s `ModelChecker`):
    /// `0` on the test's own thread, `1` on a thread of its own. The host sets `0` for a boot
    /// whose vCPUs take turns on one host thread (`VMConfiguration.vCPUsTakeTurns` in HMMVM).
    public static let modelThreadVariable = "HMMKIT_MODEL_THREAD"
    /// Everything the boot archive's environment file may set; anything else in it is ignored.
    public static let bootVariables = hostVariables + [configNameVariable, modelThreadVariable]

    /// The `NAME=VALUE` entries of `environment` the host passes to the guest: ``hostVariables``
    /// that are set, each on one line.
    public static func passedEnvironment(_ environment: [String: String]) -> [String] {
        hostVariables.compactMap { name in
            environment[name].flatMap { $0.contains(where: \.isNewline) ? nil : name + "=" + $0 }
        }
    }

    /// The plan from its inputs (pure, for tests).
    static func make(hostCommand: [String]?, workingDirectory: String?, kernelConfig: String?, hostEnvironment: [String] = [],
                     ktapDevice: String?, channelDevice: String?, release: String, kernelCommandLine: String,
                     fixtureDirectoryExists: (String) -> Bool) -> BootPlan {
        var environment = [
            "PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/tmp", "LANG=C.UTF-8", "HMMKIT_IN_VM=1",
            // A crashing Swift process must not wait at an interactive backtrace prompt.
            "SWIFT_BACKTRACE=interactive=no",
            "HMMKIT_MODULES_DIR=" + GuestLayout.modulesDirectory(release: release),
            "HMMKIT_OUTPUT_DIR=" + GuestLayout.outputDirectory,
        ]
        if let kernelConfig { environment.append("HMMKIT_KERNEL_CONFIG=" + kernelConfig) }
        for entry in hostEnvironment {
            let name = entry.prefix { $0 != "=" }
            if name.count < entry.count, bootVariables.contains(String(name)) { environment.append(entry) }
        }
        let command = hostCommand.flatMap { $0.isEmpty ? nil : $0 }
            ?? standaloneSuite(release: release, kernelCommandLine: kernelCommandLine, fixtureDirectoryExists: fixtureDirectoryExists)
        return BootPlan(command: command, workingDirectory: workingDirectory ?? "/", environment: environment,
                        ktapDevice: ktapDevice, channelDevice: channelDevice)
    }

    /// The main job's suite: every test plus the fixture corpus, the hm-tests cases as
    /// fixtures and the scenarios (those of this kernel's series too). test_hmm gets the
    /// SPM range the kernel command line reserved, if any; `hmmkit.shard=K/N` there runs
    /// one shard of it (a lab boots one job per shard from the same initramfs).
    static func standaloneSuite(release: String, kernelCommandLine: String, fixtureDirectoryExists: (String) -> Bool) -> [String] {
        var command = [GuestLayout.executable, "run", "--load-module"]
        if let spm = SPMRange(kernelCommandLine: kernelCommandLine) {
            command += ["--spm", spm.deviceAddresses.map { "0x" + String($0, radix: 16) }.joined(separator: ",")]
        }
        if let shard = kernelCommandLine.split(separator: " ").first(where: { $0.hasPrefix(shardParameter) }) {
            command += ["--shard", String(shard.dropFirst(shardParameter.count))]
        }
        let series = release.split(separator: ".").prefix(2).joined(separator: ".")
        for directory in ["corpus", "selftest", "scenarios", "scenarios/linux-\(series)"] {
            let path = GuestLayout.fixtures + "/" + directory
            if fixtureDirectoryExists(path) { command += ["--fixtures", path] }
        }
        return command
    }

    /// The kernel command-line parameter that picks a shard of the standalone suite.
    public static let shardParameter = "hmmkit.shard="
}

/// The special-purpose memory range reserved at boot (`memmap=SIZE$ADDR`, not System RAM)
/// that test_hmm's two device-coherent devices split between them.
public struct SPMRange: Equatable, Sendable {
    public var base: UInt64
    public var bytes: UInt64

    public init(base: UInt64, bytes: UInt64) {
        self.base = base
        self.bytes = bytes
    }

    /// The first `memmap=SIZE$ADDR` on the command line (SIZE with K, M or G).
    public init?(kernelCommandLine: String) {
        for word in kernelCommandLine.split(separator: " ") where word.hasPrefix("memmap=") {
            let value = word.dropFirst("memmap=".count)
            guard let dollar = value.firstIndex(of: "$") else { continue }
            let sizeText = value[..<dollar]
            let addressText = value[value.index(after: dollar)...]
            let shift: UInt64 = switch sizeText.last {
            case "K", "k": 10
            case "M", "m": 20
            case "G", "g": 30
            default: 0
            }
            let digits = shift == 0 ? sizeText : sizeText.dropLast()
            guard let size = UInt64(digits), size > 0, size <= (1 << 40) >> shift else { continue }
            let address = addressText.hasPrefix("0x") ? UInt64(addressText.dropFirst(2), radix: 16) : UInt64(addressText)
            guard let address else { continue }
            self.init(base: address, bytes: size << shift)
            return
        }
        return nil
    }

    /// spm_addr_dev0 and spm_addr_dev1: each device gets half of the range.
    public var deviceAddresses: [UInt64] { [base, base + bytes / 2] }
}
