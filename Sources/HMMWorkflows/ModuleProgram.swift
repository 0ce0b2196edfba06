import Glibc
import HMMKernel
import HMMSuite
import HMMSystem

/// A program run with a module loaded (`module run-program`, how `vm run --kselftest` and
/// `--program` run the kernel's hmm-tests or an emitted C test): load, run, report the
/// kernel's faults after the program's own KTAP, which cannot know about them, unload.
public enum ModuleProgram {
    /// The fault lines of the kernel log (BUG, Oops, WARNING...) and where they hit (RIP).
    public static func kernelFaultLines(_ records: [KernelLogRecord]) -> [String] {
        records.filter { $0.isFault || $0.text.hasPrefix("RIP:") }.prefix(20).map(\.text)
    }

    /// Runs `program` (argv, an absolute path first) with `module` loaded and returns the exit
    /// code to exit with: the program's, 1 when the module could not be loaded or the kernel
    /// faulted under a program that passed. The kernel-log lines go to `output` as KTAP
    /// diagnostics, problems to `log`.
    public static func run(_ program: [String], module: String, parameters: [ModuleParameterValue], modulesDirectory: String?,
                           environment: [String], directory: String, output: (String) -> Void, log: (String) -> Void) -> Int32 {
        let modules: KernelModules
        do {
            modules = try KernelModules(modulesDirectory: modulesDirectory)
            try modules.load(module, parameters: parameters.map { ($0.name, $0.value) })
        } catch { log("hmmkit: \(error)"); return 1 }
        // devtmpfs creates the device nodes asynchronously.
        for _ in 0..<100 where module == "test_hmm" && !fileExists("/dev/hmm_dmirror0") { usleep(10_000) }
        let kernelLog = try? KernelLogMark()
        var code: Int32
        do {
            let pid = try InitProcess.spawn(program, environment: environment, directory: directory, stdin: nil, stdout: nil, stderr: nil)
            code = InitProcess.waitForExit(of: pid)
        } catch {
            log("hmmkit: \(error)")
            code = 1
        }
        let faults = kernelFaultLines(kernelLog?.records() ?? [])
        if kernelLog == nil {
            output("# hmmkit: warning: \(KernelLogMark.path) could not be opened: kernel faults during the program are not reported")
        }
        for line in faults { output("# hmmkit: kernel log: \(line)") }
        if !faults.isEmpty && code == 0 { code = 1 }
        do { try modules.unload(module) } catch { log("hmmkit: \(error)") }
        return code
    }
}
