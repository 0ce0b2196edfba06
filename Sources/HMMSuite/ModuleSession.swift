import Glibc
import HMMKernel
import HMMSystem

/// A problem with a module parameter or SPM address as given; the text says what is wrong.
public struct ModuleArgumentError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A module parameter written `NAME=VALUE`.
public struct ModuleParameterValue: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }

    public init(parsing text: String) throws(ModuleArgumentError) {
        guard let equals = text.firstIndex(of: "=") else { throw ModuleArgumentError("parameter '\(text)' is not NAME=VALUE") }
        name = String(text[..<equals])
        value = String(text[text.index(after: equals)...])
    }

    public var description: String { "\(name)=\(value)" }
}

/// The physical addresses of test_hmm's two device-coherent devices' SPM ranges,
/// written `ADDR0,ADDR1` in hex (`0x40000000,0x50000000`).
public struct SPMAddresses: Sendable, Hashable, CustomStringConvertible {
    public var device0: String
    public var device1: String

    public init(parsing text: String) throws(ModuleArgumentError) {
        let parts = text.split(separator: ",")
        guard parts.count == 2, parts.allSatisfy({ $0.hasPrefix("0x") && UInt64($0.dropFirst(2), radix: 16) != nil }) else {
            throw ModuleArgumentError("two hex addresses 'ADDR0,ADDR1' (e.g. 0x40000000,0x50000000), got '\(text)'")
        }
        device0 = String(parts[0])
        device1 = String(parts[1])
    }

    /// test_hmm's parameters for them.
    public var parameters: [ModuleParameterValue] {
        [ModuleParameterValue(name: "spm_addr_dev0", value: device0), ModuleParameterValue(name: "spm_addr_dev1", value: device1)]
    }

    public var description: String { "\(device0),\(device1)" }
}

/// test_hmm (or another module) loaded for the duration of a run.
public struct ModuleSession {
    public let modules: KernelModules
    public let name: String
    private let log: (String) -> Void

    /// Loads `name` (unloading it first when it is loaded, so `parameters` apply) and, for
    /// test_hmm, waits for devtmpfs to create its device nodes.
    public init(_ name: String = "test_hmm", modulesDirectory: String?, parameters: [ModuleParameterValue],
                log: @escaping (String) -> Void) throws(KmodError) {
        modules = try KernelModules(modulesDirectory: modulesDirectory)
        self.name = name
        self.log = log
        if modules.isLoaded(name) {
            log("hmmkit: \(name) already loaded; unloading it so the requested parameters apply")
            try modules.unload(name)
        }
        try modules.load(name, parameters: parameters.map { ($0.name, $0.value) })
        log("hmmkit: loaded \(name) \(parameters.map(\.description).joined(separator: " "))")
        // devtmpfs creates the nodes asynchronously.
        for _ in 0..<100 where name == "test_hmm" && !fileExists("/dev/hmm_dmirror0") { usleep(10_000) }
    }

    public func unload() {
        do { try modules.unload(name); log("hmmkit: unloaded \(name)") } catch { log("hmmkit: \(error)") }
    }
}
