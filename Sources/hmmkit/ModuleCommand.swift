import ArgumentParser
import Foundation
import HMMKernel

struct ModuleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "module", abstract: "Load, unload and inspect test_hmm through libkmod.",
        subcommands: [Load.self, Unload.self, Status.self, Params.self])

    struct Common: ParsableArguments {
        @Option(help: "Directory with modules.dep (default /lib/modules/$(uname -r), or $HMMKIT_MODULES_DIR).")
        var modulesDir: String?
        @Option(help: "Module name.")
        var name = "test_hmm"

        func modules() throws -> KernelModules {
            try KernelModules(modulesDirectory: modulesDir ?? ProcessInfo.processInfo.environment["HMMKIT_MODULES_DIR"])
        }
    }

    struct Load: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Load the module with parameters (NAME=VALUE).")
        @OptionGroup var common: Common
        @Argument(help: "Module parameters, e.g. spm_addr_dev0=0x40000000 spm_addr_dev1=0x50000000")
        var parameters: [String] = []
        @Flag(help: "Allow loading on a machine that is not an hmmkit test VM.")
        var allowHostModuleLoad = false

        func validate() throws {
            for p in parameters where !p.contains("=") {
                throw ValidationError("parameter '\(p)' is not NAME=VALUE")
            }
            if !allowHostModuleLoad && !VMEnvironment.isTestVM {
                throw ValidationError("refusing to load \(common.name) outside an hmmkit test VM without --allow-host-module-load")
            }
        }

        func run() throws {
            let pairs = parameters.map { p -> (String, String) in
                let i = p.firstIndex(of: "=")!
                return (String(p[..<i]), String(p[p.index(after: i)...]))
            }
            do { try common.modules().load(common.name, parameters: pairs) } catch {
                log("hmmkit: \(error)"); throw ExitStatus.fail
            }
            log("hmmkit: loaded \(common.name)")
        }
    }

    struct Unload: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Unload the module.")
        @OptionGroup var common: Common
        func run() throws {
            do { try common.modules().unload(common.name) } catch { log("hmmkit: \(error)"); throw ExitStatus.fail }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print whether the module is loaded (exit 0) or not (exit 1).")
        @OptionGroup var common: Common
        func run() throws {
            let loaded = try common.modules().isLoaded(common.name)
            print("\(common.name): \(loaded ? "loaded" : "not loaded")")
            if !loaded { throw ExitStatus.fail }
        }
    }

    struct Params: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the parameters the module declares.")
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
