import ArgumentParser
import FoundationEssentials
import HMMGuest
import HMMKernel
import HMMSuite
import HMMSystem
import HMMWorkflows

public struct ModuleCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "module", abstract: "Load, unload and inspect test_hmm through libkmod.",
        subcommands: [Load.self, Unload.self, Status.self, Params.self, RunProgram.self])

    public init() {}

    struct Common: ParsableArguments {
        @Option(help: "Directory with modules.dep (default /lib/modules/$(uname -r), or $HMMKIT_MODULES_DIR).")
        var modulesDir: String?
        @Option(help: "Module name.")
        var name = "test_hmm"

        var modulesDirectory: String? { modulesDir ?? ProcessInfo.processInfo.environment["HMMKIT_MODULES_DIR"] }

        func modules() throws -> KernelModules { try KernelModules(modulesDirectory: modulesDirectory) }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "load", abstract: "Load the module with parameters (NAME=VALUE).")
        @OptionGroup var common: Common
        @Argument(help: "Module parameters, e.g. spm_addr_dev0=0x40000000 spm_addr_dev1=0x50000000",
                  transform: Parse.moduleParameter)
        var parameters: [ModuleParameterValue] = []
        @Flag(help: "Allow loading on a machine that is not an hmmkit test VM.")
        var allowHostModuleLoad = false

        func validate() throws {
            try Self.validate(module: common.name, allowHostModuleLoad: allowHostModuleLoad)
        }

        static func validate(module: String, allowHostModuleLoad: Bool) throws {
            if !allowHostModuleLoad && !TestVM.isCurrentMachine {
                throw ValidationError("refusing to load \(module) outside an hmmkit test VM without --allow-host-module-load")
            }
        }

        func run() throws {
            do { try common.modules().load(common.name, parameters: parameters.map { ($0.name, $0.value) }) } catch {
                log("hmmkit: \(error)"); throw ExitStatus.fail
            }
            log("hmmkit: loaded \(common.name)")
        }
    }

    struct RunProgram: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run-program",
            abstract: "Load the module, run a program with it loaded (e.g. the kernel's hmm-tests), unload it.",
            discussion: "Exits with the program's exit code (1 when the module could not be loaded).")
        @OptionGroup var common: Common
        @Option(parsing: .upToNextOption, help: "Module parameters, NAME=VALUE.", transform: Parse.moduleParameter)
        var parameters: [ModuleParameterValue] = []
        @Flag(help: "Allow loading on a machine that is not an hmmkit test VM.")
        var allowHostModuleLoad = false
        @Argument(parsing: .postTerminator, help: "The program and its arguments, after --.")
        var program: [String] = []

        func validate() throws {
            try Load.validate(module: common.name, allowHostModuleLoad: allowHostModuleLoad)
            guard let first = program.first, first.hasPrefix("/") else {
                throw ValidationError("give the program as an absolute path after --")
            }
        }

        func run() throws {
            let code = ModuleProgram.run(program, module: common.name, parameters: parameters,
                                         modulesDirectory: common.modulesDirectory,
                                         environment: ProcessInfo.processInfo.environment.map { "\($0)=\($1)" },
                                         directory: FileManager.default.currentDirectoryPath, output: { print($0) }, log: log)
            throw ExitCode(code)
        }
    }

    struct Unload: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "unload", abstract: "Unload the module.")
        @OptionGroup var common: Common
        func run() throws {
            do { try common.modules().unload(common.name) } catch { log("hmmkit: \(error)"); throw ExitStatus.fail }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Print whether the module is loaded (exit 0) or not (exit 1)."
        )
        @OptionGroup var common: Common
        func run() throws {
            let loaded = try common.modules().isLoaded(common.name)
            print("\(common.name): \(loaded ? "loaded" : "not loaded")")
            if !loaded { throw ExitStatus.fail }
        }
    }

    struct Params: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "params", abstract: "List the parameters the module declares.")
        @OptionGroup var common: Common
        func run() throws {
            do {
                for p in try common.modules().parameters(of: common.name) {
                    print("\(p.name)\t\(p.type ?? "?")\t\(p.description)")
                }
            } catch { log("hmmkit: \(error)"); throw ExitStatus.fail }
        }
    }
}
