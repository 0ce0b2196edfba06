import CKmod
import HMMSystem
#if canImport(Glibc)
import Glibc
#endif

/// A libkmod failure: the call, its negative return turned into an errno, and context.
public struct KmodError: Error, Equatable, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Errno?
    public var message: String

    public var description: String {
        if let errno { return "\(call): \(message): \(errno)" }
        return "\(call): \(message)"
    }
}

/// One parameter a module declares (modinfo `parm`/`parmtype`).
public struct ModuleParameter: Equatable, Sendable {
    public var name: String
    public var type: String?
    public var description: String
}

/// Loading and unloading kernel modules through libkmod (no modprobe).
///
/// Owns a libkmod context; not Sendable (libkmod contexts are single-threaded).
public final class KernelModules {
    private let ctx: OpaquePointer
    public let modulesDirectory: String?

    /// `modulesDirectory` nil means libkmod's default, /lib/modules/$(uname -r).
    public init(modulesDirectory: String? = nil) throws(KmodError) {
        let made: OpaquePointer? = if let modulesDirectory { kmod_new(modulesDirectory, nil) } else { kmod_new(nil, nil) }
        guard let made else {
            throw KmodError(call: "kmod_new", errno: nil,
                            message: "could not create a libkmod context for "
                                + (modulesDirectory ?? "/lib/modules/\(Machine.kernelRelease)"))
        }
        ctx = made
        self.modulesDirectory = modulesDirectory
    }

    deinit { kmod_unref(ctx) }

    /// Runs `body` with the module object `name` resolves to (alias lookup, like modprobe).
    private func withModule<R>(_ name: String, _ body: (OpaquePointer) throws(KmodError) -> R) throws(KmodError) -> R {
        var list: OpaquePointer?
        let rc = kmod_module_new_from_lookup(ctx, name, &list)
        if rc < 0 {
            throw KmodError(call: "kmod_module_new_from_lookup", errno: Errno(rawValue: -rc), message: "looking up '\(name)'")
        }
        defer { if list != nil { kmod_module_unref_list(list) } }
        guard let list, let module = kmod_module_get_module(list) else {
            throw KmodError(call: "kmod_module_new_from_lookup", errno: .ENOENT,
                            message: "module '\(name)' not found in \(modulesDirectory ?? "/lib/modules/\(Machine.kernelRelease)") "
                                + "(is it built, e.g. CONFIG_TEST_HMM=m?)")
        }
        defer { kmod_module_unref(module) }
        return try body(module)
    }

    /// Whether `name` is loaded and live (per /sys/module).
    public func isLoaded(_ name: String) -> Bool {
        var module: OpaquePointer?
        guard kmod_module_new_from_name(ctx, name, &module) == 0, let module else { return false }
        defer { kmod_module_unref(module) }
        return kmod_module_get_initstate(module) == Int32(KMOD_MODULE_LIVE.rawValue)
    }

    /// Loads `name` with `parameters` (dependencies first), failing if it is already loaded,
    /// since parameters such as test_hmm's SPM addresses are only read at load time.
    public func load(_ name: String, parameters: [(String, String)] = []) throws(KmodError) {
        let options = parameters.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        try withModule(name) { module throws(KmodError) in
            let flags = UInt32(KMOD_PROBE_FAIL_ON_LOADED.rawValue) | UInt32(KMOD_PROBE_IGNORE_COMMAND.rawValue)
            let rc = kmod_module_probe_insert_module(module, flags, options.isEmpty ? nil : options, nil, nil, nil)
            if rc < 0 {
                let errno = Errno(rawValue: -rc)
                let hint = errno == .EEXIST ? "already loaded; unload it first so the parameters apply"
                    : errno == .ENODEV || errno == .ENOMEM ? "the module's init failed (see the kernel log)"
                    : "inserting with options '\(options)'"
                throw KmodError(call: "kmod_module_probe_insert_module", errno: errno, message: "\(name): \(hint)")
            }
            if rc > 0 {
                throw KmodError(call: "kmod_module_probe_insert_module", errno: nil, message: "\(name) is blacklisted (code \(rc))")
            }
        }
    }

    /// Unloads `name`. Waits for users to go away is not possible: EBUSY while a device is open.
    public func unload(_ name: String) throws(KmodError) {
        var module: OpaquePointer?
        let rc = kmod_module_new_from_name(ctx, name, &module)
        guard rc == 0, let module else {
            throw KmodError(call: "kmod_module_new_from_name", errno: Errno(rawValue: -rc), message: name)
        }
        defer { kmod_module_unref(module) }
        let r = kmod_module_remove_module(module, 0)
        if r < 0 {
            throw KmodError(call: "kmod_module_remove_module", errno: Errno(rawValue: -r),
                            message: r == -2 ? "\(name) is not loaded" : "unloading \(name)")
        }
    }

    /// The parameters `name` declares, from its modinfo.
    public func parameters(of name: String) throws(KmodError) -> [ModuleParameter] {
        try withModule(name) { module throws(KmodError) in
            var info: OpaquePointer?
            let rc = kmod_module_get_info(module, &info)
            if rc < 0 { throw KmodError(call: "kmod_module_get_info", errno: Errno(rawValue: -rc), message: name) }
            defer { kmod_module_info_free_list(info) }
            var params: [String: ModuleParameter] = [:]
            var order: [String] = []
            var entry = info
            while let e = entry {
                let key = String(cString: kmod_module_info_get_key(e))
                let value = kmod_module_info_get_value(e).map { String(cString: $0) } ?? ""
                if key == "parm" || key == "parmtype" {
                    let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
                    let pname = parts.first ?? value
                    let rest = parts.count > 1 ? parts[1] : ""
                    if params[pname] == nil { order.append(pname) }
                    var p = params[pname] ?? ModuleParameter(name: pname, type: nil, description: "")
                    if key == "parm" { p.description = rest } else { p.type = rest }
                    params[pname] = p
                }
                entry = kmod_list_next(info, e)
            }
            return order.compactMap { params[$0] }
        }
    }

    /// The module's file path, for messages.
    public func path(of name: String) throws(KmodError) -> String? {
        try withModule(name) { module throws(KmodError) in kmod_module_get_path(module).map { String(cString: $0) } }
    }
}
