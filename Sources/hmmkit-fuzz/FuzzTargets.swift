// libFuzzer targets for hmmkit's parsers (scripts/fuzz builds them with -sanitize=fuzzer).
// In an ordinary build this is a corpus replayer: `hmmkit-fuzz fixture FILE...` runs the
// fixture target over each file, so a regression input under Tests/ can be checked by hand.
import HMMFixtures
import HMMReport
import HMMSeries

#if canImport(Glibc)
import Glibc
#endif

/// The targets, by the name scripts/fuzz and the replayer use.
enum FuzzTarget: String, CaseIterable {
    /// The fixture parser, then the model over what it accepted: planning a replay (the
    /// preconditions) and deriving every step's expectation, as `replay` does in its parent.
    case fixture
    /// The results loader over KTAP, strict and --allow-incomplete (KTAPParser underneath).
    case ktap
    /// The JSON reader and the results-JSON loader.
    case json
    /// The mbox reader and its series checks.
    case mbox
    /// ktap and json together, through ResultSet.parse (the reader `report` uses).
    case results

    func run(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch self {
        case .fixture:
            guard let fixture = try? Fixture.parse(text, file: "fuzz.fixture") else { return }
            if fixture.firstViolation() == nil { _ = fixture.derived() }
        case .ktap:
            _ = try? ResultSet.fromKTAP(text, file: "fuzz.ktap")
            _ = try? ResultSet.fromKTAP(text, file: "fuzz.ktap", options: LoadOptions(allowIncomplete: true))
        case .json:
            _ = try? JSONValue.parse(text, file: "fuzz.json")
            _ = try? ResultSet.fromJSON(text, file: "fuzz.json")
        case .mbox:
            _ = try? Mbox.read(text, file: "fuzz.mbox")
        case .results:
            _ = try? ResultSet.parse(text, file: "fuzz.log")
            _ = try? ResultSet.parse(text, file: "fuzz.log", options: LoadOptions(allowIncomplete: true))
        }
    }
}

#if FUZZING
/// The target is chosen by $HMMKIT_FUZZ_TARGET, read once (default: fixture).
let fuzzTarget: FuzzTarget = getenv("HMMKIT_FUZZ_TARGET").flatMap { FuzzTarget(rawValue: String(cString: $0)) } ?? .fixture

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    fuzzTarget.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main
struct CorpusReplayer {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: hmmkit-fuzz \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE...")
            return
        }
        for path in arguments.dropFirst() {
            guard let file = fopen(path, "rb") else { print("\(path): cannot open"); continue }
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = fread(&buffer, 1, buffer.count, file)
                if n <= 0 { break }
                bytes += buffer[..<n]
            }
            fclose(file)
            bytes.withUnsafeBytes { target.run($0) }
            print("\(path): no crash")
        }
    }
}
#endif
