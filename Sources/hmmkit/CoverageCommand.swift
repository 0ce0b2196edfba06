import ArgumentParser
import Foundation
import HMMCommands
import HMMCoverage
import HMMGuest
import HMMVM

struct CoverageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coverage",
        abstract: "Kernel line coverage (gcov) of mm/hmm.c, mm/migrate_device.c, mm/memory.c, mm/rmap.c and lib/test_hmm.c.",
        subcommands: [Run.self, CoverageCollectCommand.self], defaultSubcommand: Run.self)

    enum WorkloadName: String, ExpressibleByArgument, CaseIterable {
        case suite
        case hmTests = "hm-tests"
        case corpus
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Boot the coverage kernel once per workload and print line coverage per file, side by side (markdown).",
            discussion: """
            Workloads: hmmkit's suite with fixtures (the main job's fixtures, or --fixtures), the kernel's own hm-tests, \
            and a fuzz corpus (--corpus: directories of fixtures, replayed with --no-shrink). The kernel is built with \
            'scripts/kernel-build --coverage' (gcov on those five objects only) and cached. The table goes to stdout, \
            progress to stderr; per workload the counters, gcov's JSON and the KTAP are kept under --output.
            """)

        @Option(help: "debian-6.12, debian-6.1, a kernel tree (built with --coverage), or a coverage kernel's artifact directory.")
        var kernel = "debian-6.12"
        @Option(help: "Fixtures to replay beside the suite (repeatable; default: the main job's, from the payload).")
        var fixtures: [String] = []
        @Option(help: "A fuzz corpus: a fixture or directory of fixtures (repeatable); adds the corpus workload.")
        var corpus: [String] = []
        @Option(name: .customLong("workload"),
                help: "Run only these workloads (repeatable): suite, hm-tests, corpus. Default: all that apply.")
        var workloads: [WorkloadName] = []
        @Option(help: "Directory for each workload's counters, gcov JSON and KTAP.")
        var output = "hmmkit-coverage"
        @Option(help: "The gcov to run (the one of the gcc that built the kernel).")
        var gcov = "gcov"
        @OptionGroup var vm: VMBootOptions
        @Option(help: "Keep the VMs' logs (console, KTAP, QEMU) under this directory.")
        var keep: String?

        func validate() throws {
            if workloads.contains(.corpus) && corpus.isEmpty { throw ValidationError("the corpus workload needs --corpus DIR") }
            for path in fixtures + corpus where !FileManager.default.fileExists(atPath: path) {
                throw ValidationError("'\(path)' does not exist")
            }
        }

        /// The workloads in the table's order.
        func plannedWorkloads() -> [WorkloadName] {
            let chosen = workloads.isEmpty ? [.suite, .hmTests] + (corpus.isEmpty ? [] : [.corpus]) : workloads
            return WorkloadName.allCases.filter { chosen.contains($0) }
        }

        static func absolute(_ path: String) -> String {
            let p = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
            return URL(fileURLWithPath: p).standardizedFileURL.path
        }

        func run() throws {
            let results: [CoverageRun.WorkloadResult]
            let kernelRelease: String
            let sources: [String]
            do {
                _ = try CoverageRun.locateGcov(gcov)
                let artifacts: KernelArtifacts
                let existing = KernelArtifacts(directory: Self.absolute(kernel))
                if (kernel.hasPrefix("/") || kernel.hasPrefix(".")) && existing.isComplete {
                    artifacts = existing
                } else {
                    artifacts = try KernelBuilder.artifacts(for: kernel, coverage: true) { log("hmmkit: \($0)") }
                }
                let coverageKernel = try CoverageKernel(artifacts: artifacts)
                kernelRelease = artifacts.release
                sources = coverageKernel.objects.map(CoverageKernel.source(of:))
                let planned: [CoverageWorkload] = plannedWorkloads().map {
                    switch $0 {
                    case .suite:
                        .suite(fixtures: fixtures.isEmpty ? CoverageWorkload.mainJobFixtures(release: artifacts.release)
                                                          : fixtures.map(Self.absolute))
                    case .hmTests: .kselftest
                    case .corpus: .corpus(corpus.map(Self.absolute))
                    }
                }
                var options = CoverageRun.Options(kernel: coverageKernel, workloads: planned, outputDirectory: Self.absolute(output))
                options.gcov = gcov
                options.accelerator = vm.accelerator
                options.stallTimeout = vm.stallTimeout
                options.instructionCountShift = vm.icount
                options.keepDirectory = keep.map(Self.absolute)
                results = try CoverageRun(options: options, progress: { log("hmmkit coverage: \($0)") }).run()
            } catch { log("hmmkit coverage: \(error)"); throw ExitStatus.fail }
            Stdout.line(CoverageRun.markdown(results, sources: sources, release: kernelRelease))
            if results.contains(where: { !$0.missing.isEmpty }) { throw ExitStatus.fail }
        }
    }

}
