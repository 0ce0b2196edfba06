import Foundation
import HMMReport

extension LavaCampaign {
    /// `lava submit`: submits the jobs under `paths` to `lab`, waits for them until
    /// `waitMinutes` have passed, and merges each kernel's KTAP back, saved as
    /// `results.json` beside its jobs' definitions. Progress goes to `log`.
    public static func submit(_ paths: [String], to lab: LavaServer, waitMinutes: Int,
                              log: (String) -> Void) throws -> [LavaResults.Kernel] {
        let prepared = try jobs(in: paths)
        let started = Date()
        let outcomes = try run(prepared, on: lab, deadline: started.addingTimeInterval(Double(waitMinutes) * 60), progress: log)
        let kernels = try LavaResults.collect(outcomes)
        for kernel in kernels {
            let directory = URL(fileURLWithPath: kernel.jobs[0].job.definitionPath).deletingLastPathComponent().path
            try AtomicFile.write(kernel.results.jsonText, to: directory + "/results.json")
            let times = kernel.jobs.compactMap(\.seconds)
            log(String(format: "%@: %d jobs, %d results, job time %.0f–%.0f s; %@/results.json",
                       kernel.label, kernel.jobs.count, kernel.results.tests.count, times.min() ?? 0, times.max() ?? 0, directory))
        }
        log(String(format: "%d jobs in %.0f s wall time", outcomes.count, Date().timeIntervalSince(started)))
        return kernels
    }
}
