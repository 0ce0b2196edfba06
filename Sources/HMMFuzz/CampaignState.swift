import Foundation
import HMMFixtures
import HMMModel
import HMMReport

/// A fuzz campaign on disk: what it runs, how far it got, and every distinct event. Saved
/// after each batch (all or nothing), so Ctrl-C or a host restart loses at most the batch
/// that was running, which the next start runs again.
public struct CampaignState: Sendable, Codable, Equatable {
    public static let fileName = "campaign.json"
    public static let format = 1

    public var format = CampaignState.format
    /// The kernel as `vm run --kernel` takes it, and its release (a resume must match).
    public var kernel: String
    public var release: String
    public var generator: GeneratorSettings
    public var firstSeed: UInt64
    public var nextSeed: UInt64
    public var execs = 0
    public var boots = 0
    /// Wall time over all the campaign's runs.
    public var seconds = 0.0
    public var batches = 0
    public var events: [EventRecord] = []
    /// Coverage guidance (`fuzz --guided`); nil for an unguided campaign.
    public var guidance: GuidanceState?

    public struct GeneratorSettings: Sendable, Codable, Equatable {
        public var profile: String
        public var steps: Int
        public var devices: [Int]
        public var nodes: [Int]
        public var thp: String
        public var batchSize: Int
        public init(profile: String, steps: Int, devices: [Int], nodes: [Int], thp: String, batchSize: Int) {
            self.profile = profile
            self.steps = steps
            self.devices = devices
            self.nodes = nodes
            self.thp = thp
            self.batchSize = batchSize
        }
    }

    /// One signature: how often, where first, and what reproducing it gave.
    public struct EventRecord: Sendable, Codable, Equatable {
        public var kind: FuzzEvent.Kind
        public var signature: String
        public var count: Int
        public var firstSeed: UInt64
        /// The seeds the boot ran up to and including the first occurrence, in order: what a
        /// reproduction replays when the program alone does not do it.
        public var bootHistory: [UInt64]
        public var evidence: [String]
        public var reproduction: Reproduction = .notTried
        /// Files under the campaign directory: the program, the shrunk fixture, the C test.
        public var files: [String] = []
    }

    public enum Reproduction: Sendable, Codable, Equatable {
        case notTried
        /// A fresh boot with the program alone showed the same signature.
        case alone
        /// Only with the `count` programs before it in one boot.
        case withPrevious(count: Int)
        case notReproduced(attempts: Int)
        /// Shrunk on fresh boots to `steps` steps, every candidate checked on its own boot.
        case shrunk(from: Int, to: Int, boots: Int)

        public var summary: String {
            switch self {
            case .notTried: "not tried"
            case .alone: "reproduced alone on a fresh boot"
            case let .withPrevious(n): "reproduced with the \(n) programs before it"
            case let .notReproduced(n): "not reproduced in \(n) fresh boot(s)"
            case let .shrunk(from, to, boots): "shrunk from \(from) to \(to) steps in \(boots) fresh boots"
            }
        }
    }

    public init(kernel: String, release: String, generator: GeneratorSettings, firstSeed: UInt64) {
        self.kernel = kernel
        self.release = release
        self.generator = generator
        self.firstSeed = firstSeed
        nextSeed = firstSeed
    }

    public func index(of signature: String, kind: FuzzEvent.Kind) -> Int? {
        events.firstIndex { $0.signature == signature && $0.kind == kind }
    }

    /// Counts by kind, for the status line.
    public func count(_ kind: FuzzEvent.Kind) -> (distinct: Int, total: Int) {
        let matching = events.filter { $0.kind == kind }
        return (matching.count, matching.reduce(0) { $0 + $1.count })
    }

    // MARK: files

    public static func load(directory: String) throws -> CampaignState? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw FuzzError("\(path): cannot read: \(error.localizedDescription)")
        }
        guard data.count <= 64 << 20 else { throw FuzzError("\(path):1: larger than 64 MiB; not a campaign file") }
        let state: CampaignState
        do { state = try JSONDecoder().decode(CampaignState.self, from: data) } catch {
            throw FuzzError("\(path):1: not a campaign file: \(error)")
        }
        guard state.format == format else { throw FuzzError("\(path):1: campaign format \(state.format), this hmmkit reads \(format)") }
        guard KernelProfile.named(state.generator.profile) != nil else {
            throw FuzzError("\(path):1: unknown kernel profile '\(state.generator.profile)'")
        }
        guard (1...500).contains(state.generator.batchSize), (1...FixtureLimits.steps).contains(state.generator.steps) else {
            throw FuzzError("\(path):1: batch size \(state.generator.batchSize) or steps \(state.generator.steps) out of range")
        }
        return state
    }

    public func save(directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        do { try AtomicFile.write(String(decoding: data, as: UTF8.self) + "\n", to: directory + "/" + Self.fileName) } catch {
            throw FuzzError("\(directory)/\(Self.fileName): \(error)")
        }
    }
}

public struct FuzzError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
