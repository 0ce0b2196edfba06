/// Every test hmmkit knows, in run order, with the variant each runs on.
public struct PlannedTest: Sendable {
    public var test: TestCase
    public var variant: Variant
}

public enum Registry {
    /// hmm-tests.c order: fixture `hmm` (private variant, then coherent), then `hmm2`.
    public static func kselftestParity() -> [PlannedTest] {
        var out: [PlannedTest] = []
        let plan: [(String, [Variant])] = [("hmm", [.hmmPrivate, .hmmCoherent]), ("hmm2", [.hmm2Private, .hmm2Coherent])]
        for (fixture, variants) in plan {
            for variant in variants {
                for def in KselftestParity.definitions where def.fixture == fixture {
                    let id = TestID(fixture: fixture, variant: variant.name, name: def.name)
                    let needs: [TestNeed] = [.root] + variant.minors.map { .device(minor: $0) } + def.needs
                    let test = TestCase(id, needs: needs, timeout: def.timeout,
                                        concurrency: .kselftest(variant: variant, needs: needs), body: def.body)
                    out.append(PlannedTest(test: test, variant: variant))
                }
            }
        }
        return out
    }

    /// Checks of hmmkit's own VM machinery (a hang, a kernel crash). Never run by default:
    /// only when named with `-r`/`-f vmcheck` and `--include-vm-checks`.
    public static func vmChecks() -> [PlannedTest] {
        VMChecks.all
    }

    public static func all(includeVMChecks: Bool = false) -> [PlannedTest] {
        kselftestParity() + (includeVMChecks ? vmChecks() : [])
    }
}

/// kselftest_harness.h's filters: `-t/-T` test, `-v/-V` variant, `-f/-F` fixture,
/// `-r fixture.variant.test`; evaluated in the order given, the first match decides;
/// with no positive filter, everything not excluded runs.
public struct TestFilter: Sendable, Equatable {
    public enum Field: Sendable, Equatable { case test, variant, fixture, full }
    public struct Rule: Sendable, Equatable {
        public var include: Bool
        public var field: Field
        public var value: String
        public init(include: Bool, field: Field, value: String) {
            self.include = include
            self.field = field
            self.value = value
        }
    }

    public var rules: [Rule]
    public init(rules: [Rule] = []) { self.rules = rules }

    /// Reads the filter flags from an argument list in order (other arguments ignored).
    public static func parse(_ arguments: [String]) -> TestFilter {
        var rules: [Rule] = []
        var i = 0
        let flags: [String: (Bool, Field)] = ["-t": (true, .test), "-T": (false, .test), "-v": (true, .variant),
                                              "-V": (false, .variant), "-f": (true, .fixture), "-F": (false, .fixture),
                                              "-r": (true, .full)]
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { break }
            if let (include, field) = flags[a], i + 1 < arguments.count {
                rules.append(Rule(include: include, field: field, value: arguments[i + 1]))
                i += 2
                continue
            }
            i += 1
        }
        return TestFilter(rules: rules)
    }

    public func accepts(_ id: TestID) -> Bool {
        for rule in rules {
            let subject: String = switch rule.field {
            case .test: id.name
            case .variant: id.variant
            case .fixture: id.fixture
            case .full: id.description
            }
            if subject == rule.value { return rule.include }
        }
        return !rules.contains(where: \.include)
    }
}
