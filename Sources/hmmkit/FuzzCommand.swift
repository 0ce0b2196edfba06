import ArgumentParser
import Foundation
import HMMCommands
import HMMFixtures
import HMMFuzz
import HMMModel
import HMMVM
import KTAP

struct FuzzCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fuzz", abstract: "Fuzz campaigns: generated programs in VMs, crashes deduplicated, reproduced and shrunk.",
        subcommands: [Run.self, Report.self], defaultSubcommand: Run.self)

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run", 
            abstract: "Run generated programs in VMs of one kernel until --duration; resume with the same --output.",
            discussion: """
            Each program is a generated fixture replayed against the model. An oops, BUG, WARN, hang or
            divergence becomes an event with a signature; a crash ends the boot and the campaign goes on
            from the next program in a new one. New crash signatures are replayed on fresh boots (the
            program alone, then with the programs before it) and, when the program alone reproduces
            them, shrunk on fresh boots to a fixture and a kselftest C test under DIR/events/.
            State lives in DIR/campaign.json; running again with the same DIR resumes. KTAP on stdout
            at the end: one result per distinct event. 'hmmkit fuzz report DIR' writes the markdown.
            --guided runs a KCOV kernel (scripts/kernel-build --kcov): each program's coverage of mm/hmm.c,
            mm/migrate_device.c, mm/memory.c, mm/rmap.c and lib/test_hmm.c comes back with its result,
            programs that add coverage join DIR/corpus/, and most later programs mutate corpus programs
            (insert, delete or change steps, splice) within the model's preconditions.
            """)
        @Option(help: "debian-6.12, debian-6.1, a kernel tree or a directory from 'hmmkit kernel build'.")
        var kernel = "debian-6.12"
        @Option(help: "Campaign length this run: 90s, 10m, 1h, 1h30m.")
        var duration = FuzzDuration(seconds: 3600)
        @Option(help: "Campaign directory (state, events, logs).")
        var output: String
        @Option(help: "First seed of a new campaign.")
        var firstSeed: UInt64 = 1
        @Option(help: "Programs per boot (a crash starts a new boot within the batch).")
        var batch = 20
        @Option(help: "Steps per program.")
        var steps = 60
        @Option(help: "Device minors the programs use (0,1 private; 2,3 coherent). (default: 0,1,2,3)", transform: Parse.devices)
        var devices = DeviceMinors([0, 1, 2, 3])
        @Option(help: "NUMA nodes the programs place memory on. (default: 0,1)", transform: Parse.nodes)
        var nodes = NodeNumbers([0, 1])
        @Option(help: "THP mode the programs assume.")
        var thp = THPMode.madvise
        @Flag(help: "Do not replay new crash signatures on fresh boots.")
        var noReproduce = false
        @Option(help: "Fresh boots the crash shrinker may use per signature (0: do not shrink).")
        var shrinkBoots = 30
        @Option(help: "auto (KVM if it works, else TCG), kvm or tcg.")
        var accel: VMConfiguration.AcceleratorChoice = .auto
        @Option(help: "VMs at once, each with its own batch of seeds (a TCG VM keeps about one core busy).")
        var jobs = 1
        @Flag(help: "Coverage-guided: build/boot the KCOV kernel, keep programs that add coverage, mutate them.")
        var guided = false
        @Option(help: "Percent of a guided campaign's programs generated fresh; the rest mutate the corpus.")
        var freshPercent = ProgramPlan.freshPercent

        func validate() throws {
            if !(1...64).contains(jobs) { throw ValidationError("--jobs takes 1...64, got \(jobs)") }
            if !(1...500).contains(batch) { throw ValidationError("--batch takes 1...500, got \(batch)") }
            if !(1...FixtureLimits.steps).contains(steps) {
                throw ValidationError("--steps takes 1...\(FixtureLimits.steps), got \(steps)")
            }
            if !(0...1000).contains(shrinkBoots) { throw ValidationError("--shrink-boots takes 0...1000, got \(shrinkBoots)") }
            if !(0...100).contains(freshPercent) { throw ValidationError("--fresh-percent takes 0...100, got \(freshPercent)") }
        }

        /// A directory that already holds a built kernel (KernelBuilder takes it as it is).
        static func isBuilt(_ spec: String) -> Bool {
            (spec.hasPrefix("/") || spec.hasPrefix(".")) && KernelArtifacts(directory: spec).isComplete
        }

        func settings() -> CampaignState.GeneratorSettings {
            .init(profile: "", steps: steps, devices: devices.minors, nodes: nodes.nodes, thp: thp.rawValue, batchSize: batch)
        }

        func run() throws {
            let artifacts: KernelArtifacts
            do {
                let kcov = guided && !Self.isBuilt(kernel)
                artifacts = try KernelBuilder.artifacts(for: kernel, config: nil, kcov: kcov) { log("hmmkit: \($0)") }
            } catch {
                log("hmmkit: \(error)"); throw ExitStatus.fail
            }
            let directory = output.hasPrefix("/") ? output : FileManager.default.currentDirectoryPath + "/" + output
            var state: CampaignState
            do {
                state = try CampaignState.resumeOrStart(directory: directory, kernel: kernel, release: artifacts.release,
                                                        settings: settings(), firstSeed: firstSeed, guided: guided) {
                    log("hmmkit fuzz: \($0)")
                }
            } catch let error as FuzzError { log("hmmkit fuzz: \(error)"); throw ExitStatus.fail }
            var runner = VMProgramRunner(artifacts: artifacts, divergenceDirectory: directory + "/divergences") { log("hmmkit vm: \($0)") }
            runner.accelerator = accel
            if guided {
                guard FileManager.default.fileExists(atPath: artifacts.directory + "/kcov/objects") else {
                    log("hmmkit fuzz: \(artifacts.directory) is not a KCOV kernel (no kcov/objects): --guided needs one from "
                        + "'scripts/kernel-build --kcov' or 'hmmkit kernel build --kcov', or a source such as debian-6.12 to build")
                    throw ExitStatus.fail
                }
                runner.kcov = true
            }
            var options = FuzzCampaign.Options(duration: duration.seconds)
            options.reproduce = !noReproduce
            options.shrinkBoots = shrinkBoots
            options.jobs = jobs
            options.freshPercent = freshPercent
            let campaign = FuzzCampaign(directory: directory, state: state, runner: runner, options: options) { log("hmmkit fuzz: \($0)") }
            if guided {
                do { campaign.symbols = try KCOVSymbols(artifactDirectory: artifacts.directory) } catch {
                    log("hmmkit fuzz: no per-file coverage figures: \(error)")
                }
            }
            do { state = try campaign.run() } catch {
                log("hmmkit fuzz: \(error)"); throw ExitStatus.fail
            }
            if FuzzReport.ktap(state, directory: directory, sink: Stdout.line) != .pass { throw ExitStatus.fail }
        }
    }

    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "The kernel-versus-model report of a campaign, as markdown on stdout."
        )
        @Argument(help: "Campaign directory.")
        var directory: String

        func run() throws {
            do {
                guard let state = try CampaignState.load(directory: directory) else {
                    log("hmmkit fuzz report: \(directory)/\(CampaignState.fileName): no campaign there"); throw ExitStatus.fail
                }
                print(FuzzReport.markdown(state, directory: directory), terminator: "")
            } catch let error as FuzzError { log("hmmkit fuzz report: \(error)"); throw ExitStatus.fail }
        }
    }
}
