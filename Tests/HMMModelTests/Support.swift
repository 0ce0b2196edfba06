import Foundation
import HMMFixtures
import HMMModel
import HMMUAPI
import Testing

/// A small driver for hand-worked cases: applies actions and commits the primary outcome.
struct Driver {
    var model: Model

    init(_ profile: KernelProfile = .linux6_12, devices: [Int] = [0, 1, 2, 3], thp: THPMode = .never, nodes: [Int] = [0],
         files: FileBacking = .pageMkwrite) {
        model = Model(profile: profile, environment: Environment(devices: devices, nodes: nodes, localNode: nodes.first, thp: thp,
                                                                 files: files))
    }

    @discardableResult
    mutating func run(_ a: Action, sourceLocation: SourceLocation = #_sourceLocation) -> Envelope {
        if let v = model.violation(of: a) {
            Issue.record("precondition: \(v)", sourceLocation: sourceLocation)
        }
        return model.step(a)
    }

    @discardableResult
    mutating func ioctl(_ fd: Int, _ cmd: DmirrorOperation, _ r: Int, _ first: Int, _ count: Int, data: [UInt64] = [],
                        misalign: Int = 0, sourceLocation: SourceLocation = #_sourceLocation) -> Envelope {
        run(.ioctl(IoctlCall(fd: fd, cmd, PageRange(r, first, count), data: data, misalign: misalign)), sourceLocation: sourceLocation)
    }

    mutating func mmap(_ r: Int, _ pages: Int, _ prot: Protection = .readWrite, _ kind: MappingKind = .anonPrivate) {
        run(.mmap(r, pages: pages, prot: prot, kind: kind, file: nil, offset: 0))
    }

    mutating func write(_ r: Int, _ pages: Range<Int>, base: UInt64) {
        for p in pages { run(.cpuWrite(r, page: p, token: base + UInt64(p))) }
    }

    mutating func read(_ r: Int, _ p: Int) -> UInt64 {
        run(.cpuRead(r, page: p)).primary.tokens!.primary[0]
    }
}

func tokens(_ base: UInt64, _ range: Range<Int>) -> [UInt64] { range.map { base + UInt64($0) } }

/// A folder of hand-written fixtures below `Fixtures/`; the ones pinned to one profile live in its
/// `linux-6.1/` and `linux-6.12/` subfolders, so a replay of the folder plus the kernel's own
/// subfolder runs exactly what applies.
struct FixtureDirectory: Sendable {
    let root: URL

    init(_ name: String) {
        root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures/" + name)
    }

    /// File names relative to the folder, sorted.
    var files: [String] {
        let fm = FileManager.default
        return (((try? fm.contentsOfDirectory(atPath: root.path)) ?? [])
            + ["linux-6.1", "linux-6.12"].flatMap { dir in
                ((try? fm.contentsOfDirectory(atPath: root.path + "/" + dir)) ?? []).map { dir + "/" + $0 }
            }).filter { $0.hasSuffix(".fixture") }.sorted()
    }

    func load(_ name: String) throws -> (text: String, fixture: Fixture) {
        let text = try String(contentsOf: root.appendingPathComponent(name), encoding: .utf8)
        return (text, try Fixture.parse(text, file: name))
    }
}
