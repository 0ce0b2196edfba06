import ArgumentParser
import Foundation
import HMMCommands
import HMMLab
import HMMReport
import HMMVM
import KTAP

struct LavaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lava", abstract: "Run the suite on a LAVA lab: one job per kernel and shard, results merged back.",
        subcommands: [Job.self, Submit.self])

    struct Job: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "job", 
            abstract: "Write LAVA job definitions: each kernel × each shard of the suite and its fixtures.",
            discussion: """
            For each kernel, DIR/<kernel>/ gets its bzImage, ramdisk.cpio (the payload's initramfs with test_hmm's
            modules appended; its /init runs the suite, KTAP on the console) and shard-K-of-N.yaml per shard: a
            QEMU job in the shape of 'hmmkit vm run' (NUMA nodes, SPM range, THP) whose monitors test turns each
            KTAP result into a LAVA test case. Artifacts are file:// paths, for a worker on this machine, unless
            --artifact-url says where DIR will be served.
            """)
        @Option(help: """
            debian-6.12, debian-6.1, a kernel tree, a 'kernel build' directory, or a bzImage (with --modules). \
            Repeat for several kernels.
            """)
        var kernel: [String] = []
        @Option(help: "For each bzImage --kernel, in order: its modules.tar.xz or modules_install tree.")
        var modules: [String] = []
        @Option(help: "Shards per kernel: the suite splits stably by test name.")
        var shards = 1
        @Option(help: "Directory to write the jobs into.")
        var output: String
        @Option(help: "Base URL where the output directory will be served (default: file:// paths).")
        var artifactURL: String?
        @Option(help: "Transparent huge pages at boot: always, madvise or never.")
        var thp: VMConfiguration.THPAtBoot = .madvise
        @Option(help: "NUMA shape: memory-only-node or cpu-per-node.")
        var numa: VMConfiguration.NodeShape = .memoryOnlyNode
        @Option(help: "Minutes the monitored run may take (LAVA's test timeout).")
        var testMinutes = 30

        func validate() throws {
            if kernel.isEmpty { throw ValidationError("give at least one --kernel") }
            let images = kernel.filter(ImportedKernel.isKernelImage).count
            if modules.count != images { throw ValidationError("\(images) bzImage kernel(s) but \(modules.count) --modules") }
            if !(1...Shard.maximumCount).contains(shards) { throw ValidationError("--shards must be 1 to \(Shard.maximumCount)") }
            if !(1...24 * 60).contains(testMinutes) { throw ValidationError("--test-minutes must be 1 to 1440") }
        }

        func run() throws {
            do {
                var pendingModules = modules[...]
                let artifacts = try kernel.map { name in
                    let modules = ImportedKernel.isKernelImage(name) ? pendingModules.popFirst() : nil
                    return try VMRun.artifacts(kernel: name, modules: modules, kernelConfig: nil, config: nil) { log("hmmkit: \($0)") }
                }
                var machine = VMConfiguration(bzImage: "", guestRoot: .initramfs(path: "", channelLog: ""), consoleLog: "", ktapLog: "")
                machine.thp = thp
                machine.nodeShape = numa
                var timeouts = LavaJob.Timeouts()
                timeouts.testMinutes = testMinutes
                let payload = try GuestPayload.cached { log("hmmkit: \($0)") }
                let jobs = try LavaCampaign.prepare(kernels: artifacts, shards: shards, into: output, artifactURL: artifactURL,
                                                    payload: payload, machine: machine, timeouts: timeouts,
                                                    hmmkitVersion: HMMKitVersion.current) { log("hmmkit lava: \($0)") }
                for job in jobs { print(job.definitionPath) }
            } catch {
                log("hmmkit lava: \(error)")
                throw ExitStatus.fail
            }
        }
    }

    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "submit", 
            abstract: "Submit jobs 'lava job' wrote, wait for them, and merge their KTAP back: KTAP on stdout.",
            discussion: """
            Each job's log and KTAP are saved beside its definition; each kernel's merged results go to
            DIR/<kernel>/results.json (hmmkit results: 'report convert' makes KCIDB or JUnit of them). Each job
            also becomes a test, lava.shard-K-of-N, that fails when the job did not run its shard to the end.
            The API token comes from $LAVA_TOKEN or --token-file.
            """)
        @Option(help: "The LAVA server, e.g. http://127.0.0.1:8000.")
        var server: String
        @Option(help: "A file holding the API token (else $LAVA_TOKEN; public labs accept anonymous reads only).")
        var tokenFile: String?
        @Option(help: "Stop waiting after this many minutes; unfinished jobs are reported as such.")
        var waitMinutes = 180
        @Argument(help: "Job directories (from 'lava job --output') or job definition files.")
        var jobs: [String]

        func validate() throws {
            if !(1...7 * 24 * 60).contains(waitMinutes) { throw ValidationError("--wait-minutes must be 1 to 10080") }
        }

        func run() throws {
            let kernels: [LavaResults.Kernel]
            do {
                var token = ProcessInfo.processInfo.environment["LAVA_TOKEN"]
                if let tokenFile {
                    token = try String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                }
                kernels = try LavaCampaign.submit(jobs, to: try LavaServer(url: server, token: token), waitMinutes: waitMinutes) {
                    log("hmmkit lava: \($0)")
                }
            } catch {
                log("hmmkit lava: \(error)")
                throw ExitStatus.fail
            }
            try ExitStatus.end(with: LavaResults.ktap(kernels, sink: { Stdout.line($0) }))
        }
    }
}
