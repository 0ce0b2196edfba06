import Foundation
import HMMModel
import KTAP

extension CampaignState {
    /// The campaign in `directory`: the saved one, resumed (its generator settings apply),
    /// or a new one on `release` with `settings` (their profile from the release) from
    /// `firstSeed`. A saved campaign on another kernel release is refused.
    /// `guided` must match a saved campaign's: a corpus and signal mean nothing to an
    /// unguided one, and an unguided campaign has none to resume from.
    public static func resumeOrStart(directory: String, kernel: String, release: String, settings: GeneratorSettings,
                                     firstSeed: UInt64, guided: Bool = false, log: (String) -> Void) throws -> CampaignState {
        if let saved = try CampaignState.load(directory: directory) {
            guard saved.release == release else {
                throw FuzzError("\(directory) is a campaign on \(saved.release), not \(release); use another --output")
            }
            guard (saved.guidance != nil) == guided else {
                throw FuzzError("\(directory) is \(saved.guidance != nil ? "a guided" : "an unguided") campaign: "
                                + (guided ? "run it without --guided, or use another --output" : "resume it with --guided"))
            }
            log("resuming \(directory) at seed \(saved.nextSeed) (\(saved.execs) execs so far); its generator settings apply")
            return saved
        }
        var generator = settings
        generator.profile = (KernelProfile.forRelease(release) ?? .linux6_12).name
        var state = CampaignState(kernel: kernel, release: release, generator: generator, firstSeed: firstSeed)
        if guided { state.guidance = GuidanceState() }
        return state
    }
}

extension FuzzReport {
    /// The campaign as KTAP to `sink`: `fuzz.campaign` with its figures, then one failing
    /// result per distinct event with its files under `directory`. Returns the exit code.
    public static func ktap(_ state: CampaignState, directory: String, sink: @escaping (String) -> Void) -> KSFTExitCode {
        var writer = KTAPWriter(style: .kselftest, sink: sink)
        writer.start(plan: state.events.count + 1)
        writer.end(KTAPTestCase(name: "fuzz.campaign", status: .pass, diagnostics: [
            String(format: "%d execs in %@ (%.2f/s), %d boots, seeds %llu..%llu", state.execs, FuzzCampaign.clock(state.seconds),
                   state.seconds > 0 ? Double(state.execs) / state.seconds : 0, state.boots, state.firstSeed, state.nextSeed &- 1)]))
        for event in state.events {
            writer.end(KTAPTestCase(name: "fuzz.\(event.kind.rawValue).\(StableHash.hex(event.signature))", status: .fail,
                                    reason: event.signature,
                                    diagnostics: ["\(event.count) time(s), first seed \(event.firstSeed); \(event.reproduction.summary)"]
                                        + event.files.map { "file: \(directory)/\($0)" }))
        }
        return writer.finish()
    }
}
