// libFuzzer targets for hmmkit's parsers (scripts/fuzz builds them with -sanitize=fuzzer).
// In an ordinary build this is a corpus replayer: `hmmkit-fuzz fixture FILE...` runs the
// fixture target over each file, so a regression input under Tests/ can be checked by hand.
#if canImport(Glibc)
import Glibc
#endif
import HMMFixtures
import HMMReport

/// The fixture parser, then the model over what it accepted: planning a replay (the
/// preconditions) and deriving every step's expectation, as `replay` does in its parent.
func fuzzFixture(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let fixture = try? Fixture.parse(text, file: "fuzz.fixture") else { return }
    if fixture.firstViolation() == nil { _ = fixture.derived() }
}

/// The KTAP and results-JSON readers (ResultSet.parse takes either).
func fuzzResults(_ bytes: UnsafeRawBufferPointer) {
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? ResultSet.parse(text, file: "fuzz.log")
    _ = try? ResultSet.parse(text, file: "fuzz.log", options: LoadOptions(allowIncomplete: true))
}

#if FUZZING
/// The target is chosen by $HMMKIT_FUZZ_TARGET (fixture or results), read once.
let fuzzesResults: Bool = getenv("HMMKIT_FUZZ_TARGET").map { String(cString: $0) == "results" } ?? false

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    if fuzzesResults { fuzzResults(bytes) } else { fuzzFixture(bytes) }
    return 0
}
#else
@main
struct CorpusReplayer {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let target = arguments.first, ["fixture", "results"].contains(target) else {
            print("usage: hmmkit-fuzz fixture|results FILE...")
            return
        }
        for path in arguments.dropFirst() {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let bytes = Array(text.utf8)
            bytes.withUnsafeBytes { target == "fixture" ? fuzzFixture($0) : fuzzResults($0) }
            print("\(path): no crash")
        }
    }
}
#endif
