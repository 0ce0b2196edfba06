import ArgumentParser
import Foundation
import HMMCommands
import HMMKernel
import HMMVM
import KTAP

struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kernel", abstract: "Build kernels with test_hmm.",
                                                    subcommands: [Build.self])

    struct Build: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "build", 
            abstract: "Build (or find cached) a kernel with test_hmm; prints its artifact directory.",
            discussion: "SOURCE is debian-6.12 (default), debian-6.1, or a kernel tree. Cached under ~/.cache/hmmkit by source and config.")
        @Option(help: "debian-6.12, debian-6.1, or a kernel source directory.")
        var source = "debian-6.12"
        @Option(help: """
            A config fragment (on top of the source's defconfig) or a whole .config; test_hmm's needs are always added. \
            Default: hmmkit's tinyconfig-based one.
            """)
        var config: String?
        @Flag(help: "Instrument mm/hmm, mm/migrate_device, mm/memory, mm/rmap and lib/test_hmm with gcov (for 'hmmkit coverage').")
        var coverage = false
        @Flag(help: "Instrument the same five objects with KCOV (for 'hmmkit fuzz --guided').")
        var kcov = false

        func validate() throws {
            if coverage && kcov { throw ValidationError("--coverage and --kcov are separate kernels; pass one") }
        }

        func run() throws {
            do {
                let a = try KernelBuilder.artifacts(for: source, config: config, coverage: coverage, kcov: kcov) { log("hmmkit: \($0)") }
                print(a.directory)
            } catch { log("hmmkit: \(error)"); throw ExitStatus.fail }
        }
    }
}

struct VMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vm", abstract: "Run hmmkit (or the kernel's hmm-tests) in a QEMU VM.",
                                                    subcommands: [Run.self, PowerOff.self])

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", 
            abstract: "Boot a kernel with test_hmm under QEMU and run hmmkit inside; KTAP on stdout.",
            discussion: """
            Everything after -- is the hmmkit command line for the guest (default: run). The guest loads
            test_hmm through libkmod with the SPM addresses of the VM's reserved range, so both device
            types exist. The guest's exit code becomes this command's.
            """)

        @Option(help: """
            debian-6.12, debian-6.1, a kernel tree, a directory from 'hmmkit kernel build', \
            or a bzImage built elsewhere (with --modules).
            """)
        var kernel = "debian-6.12"
        @Option(help: "With a bzImage --kernel: its modules, as modules.tar.xz (tuxmake, KernelCI) or a 'make modules_install' tree.")
        var modules: String?
        @Option(help: "With a bzImage --kernel: its .config (default: a config file beside it, else the guest's /proc/config.gz).")
        var kernelConfig: String?
        @Option(help: """
            payload (the guest sees only the payload and what its command names) \
            or host-root (the host's / read-only over 9p, for comparison: trusted kernels only, since the guest \
            reads the host; the kernel needs 9p over virtio-pci built in, as x86_64 defconfig has it).
            """)
        var guestRoot: VMSession.GuestRootChoice = .payload
        @Option(help: "Build --kernel with this config fragment or whole .config (as 'kernel build --config').")
        var config: String?
        @Flag(help: "Run the kernel's own tools/testing/selftests/mm/hmm-tests (built from the same tree) instead of hmmkit.")
        var kselftest = false
        @Option(help: "Run this kselftest-harness program (e.g. a C test hmmkit emitted) with test_hmm loaded, instead of hmmkit.")
        var program: String?
        @OptionGroup var vm: VMBootOptions
        @Option(help: "Transparent huge pages at boot: always, madvise or never.")
        var thp: VMConfiguration.THPAtBoot = .madvise
        @Option(help: "NUMA shape: memory-only-node (node 1 has no CPU) or cpu-per-node (one CPU and 1 GiB per node, SPM range in node 1).")
        var numa: VMConfiguration.NodeShape = .memoryOnlyNode
        @Option(help: "Keep the VM's logs (console, KTAP, QEMU) in this directory.")
        var keep: String?
        @Option(name: .customLong("kernel-arg"), help: "Add this to the kernel command line (repeatable), e.g. panic_on_oops=1.")
        var kernelArguments: [String] = []
        @Option(help: "Directory for files the guest saves (shrunk fixtures, C reproducers).")
        var output = "hmmkit-out"
        @Argument(parsing: .postTerminator, help: "hmmkit arguments for the guest.")
        var guestArguments: [String] = []

        func validate() throws {
            if (kselftest || program != nil) && !guestArguments.isEmpty {
                throw ValidationError("--kselftest and --program run a C test themselves; drop the guest arguments")
            }
            if kselftest && program != nil { throw ValidationError("choose --kselftest or --program, not both") }
            if let program, !program.hasPrefix("/") { throw ValidationError("--program needs an absolute path, got '\(program)'") }
            if (modules != nil || kernelConfig != nil) && !ImportedKernel.isKernelImage(kernel) {
                throw ValidationError("--modules and --kernel-config go with a bzImage given as --kernel")
            }
        }

        func run() throws {
            let artifacts: KernelArtifacts
            let (command, resumable, hostFiles): ([String], Bool, [String])
            do {
                artifacts = try VMRun.artifacts(kernel: kernel, modules: modules, kernelConfig: kernelConfig, config: config) {
                    log("hmmkit: \($0)")
                }
                (command, resumable, hostFiles) = try VMRun.guestCommand(kselftest: kselftest, program: program,
                                                                         guestArguments: guestArguments, artifacts: artifacts)
            } catch {
                log("hmmkit: \(error)"); throw ExitStatus.fail
            }
            var options = VMSession.Options(artifacts: artifacts, command: command, resumable: resumable)
            options.guestRoot = guestRoot
            options.hostFiles = hostFiles
            options.accelerator = vm.accelerator
            options.thp = thp
            options.nodeShape = numa
            options.stallTimeout = vm.stallTimeout
            options.instructionCountShift = vm.icount
            options.keepDirectory = keep
            options.extraKernelArguments = kernelArguments
            options.artifactsDirectory = output.hasPrefix("/") ? output : FileManager.default.currentDirectoryPath + "/" + output
            let session = VMSession(options: options, progress: { log("hmmkit vm: \($0)") }, emit: { Stdout.line($0) })
            let report: VMSession.Report
            do { report = try session.run() } catch { log("hmmkit vm: \(error)"); throw ExitStatus.fail }
            log(String(format: "hmmkit vm: %@ in %.1f s over %d boot(s) (%@), first result after %@",
                       "\(report.exitCode)", report.seconds, report.boots, report.accelerator,
                       report.firstResultSeconds.map { String(format: "%.1f s", $0) } ?? "none"))
            try ExitStatus.end(with: report.exitCode)
        }
    }

    struct PowerOff: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "power-off", abstract: "Power the test VM off (its init calls this).",
                                                        shouldDisplay: false)
        func run() throws {
            guard ProcessInfo.processInfo.environment["HMMKIT_IN_VM"] == "1", ProcessInfo.processInfo.processIdentifier == 1 else {
                throw ValidationError("power-off only runs as an hmmkit test VM's init, as its last step")
            }
            do { try Machine.powerOff() } catch { log("hmmkit: \(error)"); throw ExitStatus.fail }
        }
    }
}

struct PayloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "payload",
        abstract: "Write the guest payload: an initramfs that boots with any x86_64 bzImage, and a rootfs overlay.",
        discussion: """
        DIR/hmmkit-payload.cpio is an initramfs whose /init is hmmkit: booted on its own (e.g. by a lab, with the
        kernel's modules appended) it loads test_hmm and runs the whole suite, KTAP on the console. DIR/hmmkit-overlay.tar.gz
        holds the same files under /opt/hmmkit for an existing root filesystem. Both carry hmmkit (build it with
        --static-swift-stdlib, as scripts/main-job does), the host's glibc, libkmod and libnuma, and the fixtures.
        """)
    @Option(help: "Directory to write the payload into.")
    var output: String

    func run() throws {
        do {
            let fixtures = (try? Repository.root()).map { $0 + "/Fixtures" }
            try GuestPayload.build(into: output, fixtures: fixtures, overlay: true) { log("hmmkit: \($0)") }
        } catch { log("hmmkit: \(error)"); throw ExitStatus.fail }
    }
}
