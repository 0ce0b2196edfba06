// swift-tools-version: 6.0
// hmmkit: a test harness for Linux HMM (test_hmm), a reference model of it, and kernel CI VM runs.
import PackageDescription

let package = Package(
    name: "hmmkit",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hmmkit", targets: ["hmmkit"]),
        .executable(name: "hmmkit-guest", targets: ["hmmkit-guest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // C libraries, reached through pkg-config like swift-nio does.
        .systemLibrary(name: "CKmod", pkgConfig: "libkmod", providers: [.apt(["libkmod-dev"])]),
        .systemLibrary(name: "CNuma", pkgConfig: "numa", providers: [.apt(["libnuma-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Small C helpers Swift cannot express (fork in a threaded process, errno, sysconf).
        .target(name: "CSysShims"),
        // Leaf, like swift-system: every raw system call, Errno, owned file descriptors, the
        // atomic file writer, process spawning and threads. Glibc only, no Foundation.
        .target(name: "HMMSystem", dependencies: ["CSysShims"]),

        // Pure: the test module's UAPI (struct, ioctl numbers per generation, snapshot bytes).
        .target(name: "HMMUAPI"),
        // Pure: KTAP/TAP writer and parser.
        .target(name: "KTAP"),
        // Pure but for HMMSystem's Errno (a leaf): the reference model of what a correct kernel may answer.
        .target(name: "HMMModel", dependencies: ["HMMSystem", "HMMUAPI"]),
        // Pure: the fixture format and generator.
        .target(name: "HMMFixtures", dependencies: ["HMMModel", "HMMUAPI"]),
        // The kernel interface: dmirror ioctls, memory, libkmod, libnuma, health.
        .target(name: "HMMKernel", dependencies: ["HMMSystem", "HMMUAPI", "CKmod", "CNuma", "CZlib"]),
        // The guest side of a test VM booted from the payload: hmmkit as PID 1, the boot plan
        // the host leaves in the initramfs, and the channel that carries results back.
        .target(name: "HMMGuest", dependencies: ["HMMKernel", "HMMSystem"]),
        // Tests of a real kernel: declarations, needs, isolation (fork + timeout).
        .target(name: "HMMSuite", dependencies: ["HMMKernel", "HMMModel", "HMMFixtures", "KTAP"]),
        // Host side of kernel CI VM runs: boot QEMU, watch the console, merge KTAP.
        .target(name: "HMMVM", dependencies: ["KTAP", "HMMKernel", "HMMGuest"]),
        // Results of a run as data: load KTAP or hmmkit JSON, compare two runs, write KCIDB/JUnit.
        .target(name: "HMMReport", dependencies: ["HMMSystem", "KTAP"]),
        // A patch series on a kernel tree: scratch worktree, per-tree kernel builds, VM runs, first bad patch.
        .target(name: "HMMSeries", dependencies: ["HMMVM", "HMMReport", "KTAP"]),
        // Kernel CI labs: LAVA job definitions for kernels × shards, the REST client, results back.
        .target(name: "HMMLab", dependencies: ["HMMVM", "HMMGuest", "HMMReport", "KTAP"]),
        // Fuzz campaigns: generated programs in VMs, crash and divergence signatures, fresh-boot
        // reproduction and shrinking, the campaign state on disk and its report.
        .target(name: "HMMFuzz", dependencies: ["HMMVM", "HMMFixtures", "HMMModel", "HMMReport", "KTAP"]),
        // What a command does on this machine with the suite, joining the runner (HMMSuite, no
        // Foundation, no result files) and the results (HMMReport): a run with its KTAP header and
        // result files, the benchmarks' KTAP, a program run with test_hmm loaded, fixture files.
        .target(name: "HMMWorkflows", dependencies: [
            "HMMSystem", "HMMSuite", "HMMReport", "HMMGuest", "HMMKernel", "HMMModel", "HMMFixtures", "KTAP",
        ]),
        // Kernel line coverage (gcov): the guest's collector, coverage VM runs, gcov's JSON, the table.
        .target(name: "HMMCoverage", dependencies: ["HMMSystem", "HMMVM", "HMMGuest", "HMMKernel"]),
        // The commands that run the suite on this kernel (run, list, replay, module, bench,
        // coverage collect): declared once for both executables, with no Foundation (only
        // FoundationEssentials), so the guest's executable links no ICU.
        .target(name: "HMMCommands", dependencies: [
            "HMMSystem", "HMMSuite", "HMMReport", "HMMGuest", "HMMKernel", "HMMModel", "HMMFixtures", "HMMWorkflows", "KTAP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The command tree: option declarations that call the library targets.
        .executableTarget(name: "hmmkit", dependencies: [
            "HMMCommands",
            "HMMSuite", "HMMVM", "HMMKernel", "HMMSystem", "HMMGuest", "KTAP", "HMMFixtures", "HMMReport", "HMMSeries", "HMMLab", "HMMFuzz",
            "HMMWorkflows",
            "HMMCoverage",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // What a test VM's payload runs: PID 1 and the suite's commands (HMMCommands), without
        // Foundation's ICU data, so the initramfs is some 60 MiB smaller and boots seconds sooner.
        .executableTarget(name: "hmmkit-guest", dependencies: [
            "HMMCommands", "HMMGuest", "KTAP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // libFuzzer targets for the parsers (scripts/fuzz); a corpus replayer otherwise.
        .executableTarget(name: "hmmkit-fuzz", dependencies: ["HMMFixtures", "HMMReport", "HMMSeries"]),

        .testTarget(name: "HMMUAPITests", dependencies: ["HMMUAPI"]),
        .testTarget(name: "KTAPTests", dependencies: ["KTAP"]),
        .testTarget(name: "HMMModelTests", dependencies: ["HMMModel", "HMMFixtures"]),
        .testTarget(name: "HMMSystemTests", dependencies: ["HMMSystem"]),
        .testTarget(name: "HMMKernelTests", dependencies: ["HMMKernel", "HMMSystem"]),
        .testTarget(name: "HMMSuiteTests", dependencies: ["HMMSuite", "HMMFixtures", "HMMModel", "HMMKernel"]),
        .testTarget(name: "HMMVMTests", dependencies: ["HMMVM", "HMMGuest", "KTAP"]),
        .testTarget(name: "HMMReportTests", dependencies: ["HMMReport", "KTAP"], exclude: ["Golden"]),
        .testTarget(name: "HMMSeriesTests", dependencies: ["HMMSeries", "HMMReport"]),
        .testTarget(name: "HMMLabTests", dependencies: ["HMMLab", "HMMVM", "HMMReport", "KTAP"]),
        .testTarget(name: "HMMFuzzTests", dependencies: ["HMMFuzz", "HMMFixtures", "KTAP"], exclude: ["Consoles"]),
        .testTarget(name: "HMMWorkflowsTests", dependencies: ["HMMWorkflows", "HMMSuite", "HMMGuest", "HMMReport", "HMMKernel", "KTAP"]),
        .testTarget(name: "HMMCoverageTests", dependencies: ["HMMCoverage", "HMMVM", "HMMGuest"], exclude: ["Samples"]),
        .testTarget(name: "CLITests", dependencies: [
            "hmmkit", "HMMCommands", "HMMReport", "KTAP", "HMMFixtures", "HMMSeries", "HMMKernel", "HMMVM",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
