import Foundation
import HMMReport
import KTAP

/// The jobs' results back as hmmkit results: per kernel, the shards merged into one result
/// set, plus one `lava.<shard>` test per job that fails when the job did not run its shard to
/// the end (an incomplete job, a guest that crashed, or no KTAP), so a lost shard is never a
/// silent gap.
public enum LavaResults {
    public struct Kernel: Sendable {
        public var label: String
        public var results: ResultSet
        public var jobs: [LavaCampaign.Outcome]
    }

    public static func collect(_ outcomes: [LavaCampaign.Outcome]) throws(LabError) -> [Kernel] {
        var labels: [String] = []
        for outcome in outcomes where !labels.contains(outcome.job.kernelLabel) { labels.append(outcome.job.kernelLabel) }
        var kernels: [Kernel] = []
        for label in labels {
            let jobs = outcomes.filter { $0.job.kernelLabel == label }.sorted { $0.job.shard.index < $1.job.shard.index }
            var shardSets: [ResultSet] = []
            var jobTests: [ResultSet.Test] = []
            for job in jobs {
                let text = (try? String(contentsOfFile: job.job.ktapPath, encoding: .utf8)) ?? ""
                var problems: [String] = []
                if job.health != "Complete" { problems.append("LAVA job \(job.id) ended \(job.health)") }
                if let code = job.guestExitCode, code != 0, code != 1, code != 4 {
                    problems.append("the guest command exited \(code)")
                }
                if job.guestExitCode == nil { problems.append("the guest never reported its exit (crashed or cut off)") }
                if text.isEmpty {
                    problems.append("no KTAP in the job's log")
                } else {
                    do {
                        shardSets.append(try ResultSet.parse(text, file: job.job.ktapPath, options: LoadOptions(allowIncomplete: true)))
                    } catch {
                        problems.append("\(error)")
                    }
                }
                var diagnostics = [job.url]
                if let seconds = job.seconds { diagnostics.append(String(format: "job time: %.0f s", seconds)) }
                jobTests.append(ResultSet.Test(name: "lava.\(job.job.shard.fileStem)", status: problems.isEmpty ? .pass : .error,
                                               reason: problems.isEmpty ? nil : problems.joined(separator: "; "),
                                               duration: job.seconds, diagnostics: diagnostics + problems))
            }
            var merged = try merge(shardSets, label: label)
            merged.tests += jobTests
            kernels.append(Kernel(label: label, results: merged, jobs: jobs))
        }
        return kernels
    }

    /// The shards' results as one set, sorted by test name (``ResultSet/merging(_:)``, as
    /// `hmmkit report merge` does it). A test two shards both report (they should not) must agree.
    static func merge(_ sets: [ResultSet], label: String) throws(LabError) -> ResultSet {
        var result = ResultSet(tool: .hmmkit, tests: [])
        if !sets.isEmpty {
            do { result = try ResultSet.merging(sets) } catch { throw LabError("\(label): \(error)") }
        }
        result.source = label
        return result
    }

    /// KTAP for the whole campaign: one subtest per kernel holding its merged results.
    public static func ktap(_ kernels: [Kernel], sink: @escaping (String) -> Void) -> KSFTExitCode {
        var writer = KTAPWriter(style: .ktap, includeDurations: true, sink: sink)
        writer.start(plan: kernels.count)
        for kernel in kernels {
            let cases = kernel.results.tests.map { test in
                KTAPTestCase(name: test.name, status: test.status, reason: test.reason,
                             diagnostics: test.diagnostics, duration: test.duration.map { .milliseconds(Int64(($0 * 1000).rounded())) })
            }
            writer.write(.group(kernel.label, cases))
        }
        return writer.finish()
    }
}
