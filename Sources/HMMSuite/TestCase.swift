import HMMKernel
import HMMSystem
import HMMUAPI

/// A test's identity as kselftest prints it: `fixture.variant.name`.
public struct TestID: Hashable, Sendable, CustomStringConvertible, Comparable {
    public var fixture: String
    public var variant: String
    public var name: String

    public init(fixture: String, variant: String, name: String) {
        self.fixture = fixture
        self.variant = variant
        self.name = name
    }

    public var description: String { "\(fixture).\(variant).\(name)" }
    public static func < (a: Self, b: Self) -> Bool { a.description < b.description }
}

/// A kselftest-style fixture variant: which devices the test drives.
public struct Variant: Sendable, Hashable {
    public var name: String
    /// Device minors: `hmm` variants use one, `hmm2` variants two.
    public var minors: [Int]

    public var memoryType: DeviceMemoryType { DeviceMemoryType.forMinor(minors[0]) ?? .devicePrivate }
    public var isCoherent: Bool { memoryType == .deviceCoherent }

    public static let hmmPrivate = Variant(name: "hmm_device_private", minors: [0])
    public static let hmmCoherent = Variant(name: "hmm_device_coherent", minors: [2])
    public static let hmm2Private = Variant(name: "hmm2_device_private", minors: [0, 1])
    public static let hmm2Coherent = Variant(name: "hmm2_device_coherent", minors: [2, 3])
}

/// A test failed; thrown by assertions, caught by the runner in the test's child.
public struct TestFailure: Error, CustomStringConvertible {
    public var message: String
    public var file: String
    public var line: Int
    public init(_ message: String, file: String = #fileID, line: Int = #line) {
        self.message = message
        self.file = file
        self.line = line
    }
    public var description: String { file.isEmpty ? message : "\(file):\(line): \(message)" }
}

/// The test decided at run time that it cannot run here (kselftest's SKIP()).
public struct TestSkip: Error {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
}

/// One runnable test.
public struct TestCase: Sendable {
    public var id: TestID
    public var needs: [TestNeed]
    /// Seconds before the runner kills the test's process group (kselftest default 30).
    public var timeout: Double?
    /// Which tests it may run beside under `run --jobs N` (alone unless declared).
    public var concurrency: Concurrency
    /// Runs in a forked child. Throws `TestFailure` (assert) or `TestSkip`; `context.expect`
    /// records non-fatal failures.
    public var body: @Sendable (TestContext) throws -> Void

    public init(_ id: TestID, needs: [TestNeed] = [], timeout: Double? = nil, concurrency: Concurrency = .alone,
                body: @escaping @Sendable (TestContext) throws -> Void) {
        self.id = id
        self.needs = needs
        self.timeout = timeout
        self.concurrency = concurrency
        self.body = body
    }
}

/// What a running test can use: its variant, the machine facts, diagnostics and checks.
public final class TestContext {
    public let id: TestID
    public let variant: Variant
    public let facts: SystemFacts
    /// Check the model on the test's thread (``ModelChecker``): where the vCPUs take turns,
    /// or where another test runs beside this one and keeps the other CPU busy.
    let modelInline: Bool
    /// Writes one diagnostic line to the parent (survives the child crashing later).
    let emit: (String) -> Void
    public private(set) var failures = 0

    init(id: TestID, variant: Variant, facts: SystemFacts, modelInline: Bool = ModelChecker.checksInline,
         emit: @escaping (String) -> Void) {
        self.id = id
        self.variant = variant
        self.facts = facts
        self.modelInline = modelInline
        self.emit = emit
    }

    /// Checks that finish after the test body (the model's thread): run by the runner, a
    /// failure among them decides the verdict before an error the body threw later.
    private var endChecks: [() throws -> Void] = []

    public func atEnd(_ check: @escaping () throws -> Void) { endChecks.append(check) }

    func runEndChecks() throws {
        let checks = endChecks
        endChecks = []
        for check in checks { try check() }
    }

    public var pageSize: Int { Machine.pageSize }
    public var generation: UAPIGeneration { facts.generation }

    public func log(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) { emit(String(line)) }
    }

    /// Opens the variant's device number `index` (0 or 1).
    public func openDevice(_ index: Int = 0) throws -> DmirrorDevice {
        let minor = variant.minors[index]
        do { return try DmirrorDevice(minor: minor, generation: facts.generation) } catch {
            throw TestFailure("could not open hmm dmirror driver (\(DmirrorDevice.path(minor: minor))): \(error)")
        }
    }

    /// Non-fatal check (kselftest EXPECT_*): records and continues.
    public func expect(_ condition: Bool, _ message: @autoclosure () -> String,
                       file: String = #fileID, line: Int = #line) {
        if !condition {
            failures += 1
            log("\(file):\(line): \(message())")
        }
    }

    /// Fatal check (kselftest ASSERT_*).
    public func require(_ condition: Bool, _ message: @autoclosure () -> String,
                        file: String = #fileID, line: Int = #line) throws {
        if !condition { throw TestFailure(message(), file: file, line: line) }
    }

    /// Runs a dmirror call expected to succeed; a failure is fatal with the errno named.
    public func call<T>(_ what: String, file: String = #fileID, line: Int = #line,
                        _ body: () throws(DmirrorError) -> T) throws -> T {
        do { return try body() } catch {
            throw TestFailure("\(what): \(error)", file: file, line: line)
        }
    }

    /// Runs a dmirror call expected to fail with `errno`.
    public func callFails(_ what: String, with errno: Errno, file: String = #fileID, line: Int = #line,
                          _ body: () throws(DmirrorError) -> DmirrorResult) throws {
        do {
            let r = try body()
            throw TestFailure("\(what): expected \(errno.name), got success (cpages \(r.cpages))", file: file, line: line)
        } catch let error as DmirrorError {
            if error.errno != errno {
                throw TestFailure("\(what): expected \(errno.name), got \(error)", file: file, line: line)
            }
        }
    }
}
