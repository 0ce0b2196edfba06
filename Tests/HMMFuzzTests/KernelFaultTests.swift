import Foundation
import Testing
@testable import HMMFuzz

private func console(_ name: String) throws -> [String] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Consoles/" + name)
    return try String(contentsOf: url, encoding: .utf8)
        .split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
}

@Suite struct KernelFaultTests {
    /// A real boot: Debian 6.12.118 under QEMU TCG, READ through the fd over its own
    /// device-private pages (Fixtures/hazards/read-own-private-oops.fixture).
    @Test func readsTheOopsOfASavedBoot() throws {
        let fault = try #require(KernelFault.first(in: try console("read-own-private-6.12.118.log")))
        #expect(fault.kind == .pageFault)
        #expect(fault.title == "BUG: unable to handle page fault in dmirror_do_read")
        #expect(fault.frames.first == "dmirror_do_read")
        // That kernel has no reliable unwinder: every frame below is a guess, left out.
        #expect(fault.framesAreGuesses)
        #expect(fault.frames.contains("dmirror_fops_unlocked_ioctl"))
        #expect(fault.signature == "BUG: unable to handle page fault in dmirror_do_read")
    }

    @Test func boilerplateBeforeTheFaultIsNoFault() throws {
        let lines = try console("read-own-private-6.12.118.log")
        let before = Array(lines.prefix { !$0.contains("BUG: unable to handle") })
        #expect(KernelFault.first(in: before) == nil)
    }

    static let gpf = """
        [   41.101010] Oops: general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI
        [   41.101200] CPU: 1 UID: 0 PID: 377 Comm: hmmkit Tainted: G        W          6.12.117 #1
        [   41.101300] RIP: 0010:rmap_walk_anon+0x4b/0x1f0
        [   41.101400] Call Trace:
        [   41.101500]  <TASK>
        [   41.101600]  ? die_addr+0x37/0x90
        [   41.101700]  ? exc_general_protection+0x1c5/0x410
        [   41.101800]  ? asm_exc_general_protection+0x26/0x30
        [   41.101900]  remove_migration_ptes+0x5b/0x80
        [   41.102000]  migrate_device_finalize.constprop.0+0x1a2/0x3c0
        [   41.102100]  dmirror_device_evict_chunk+0x1e1/0x2d0 [test_hmm]
        [   41.102200]  dmirror_fops_release+0x4d/0x90 [test_hmm]
        [   41.102300]  __fput+0xea/0x2d0
        [   41.102400]  </TASK>
        [   41.102500] Kernel panic - not syncing: Fatal exception
        """

    @Test func reliableFramesFollowTheFaultingFunction() throws {
        let fault = try #require(KernelFault.first(in: Self.gpf.split(separator: "\n").map(String.init)))
        #expect(fault.kind == .generalProtection)
        #expect(fault.title == "general protection fault in rmap_walk_anon")
        #expect(!fault.framesAreGuesses)
        #expect(fault.frames == ["rmap_walk_anon", "remove_migration_ptes", "migrate_device_finalize",
                                 "dmirror_device_evict_chunk", "dmirror_fops_release", "__fput"])
        #expect(fault.signature == "general protection fault in rmap_walk_anon < rmap_walk_anon < remove_migration_ptes"
                    + " < migrate_device_finalize < dmirror_device_evict_chunk")
    }

    @Test func theSameBugInAnotherBootHasTheSameSignature() throws {
        let other = Self.gpf
            .replacingOccurrences(of: "[   41.", with: "[  907.")
            .replacingOccurrences(of: "PID: 377", with: "PID: 9120")
            .replacingOccurrences(of: "0xdead000000000122", with: "0xdead000000000100")
            .replacingOccurrences(of: "+0x1a2/0x3c0", with: "+0x1b0/0x3c0")
            .replacingOccurrences(of: ".constprop.0", with: ".isra.0")
        let a = KernelFault.first(in: Self.gpf.split(separator: "\n").map(String.init))
        let b = KernelFault.first(in: other.split(separator: "\n").map(String.init))
        #expect(a != nil && a?.signature == b?.signature)
    }

    @Test func aWarningIsNamedByItsFunction() throws {
        let lines = ["<4>[   12.5] WARNING: CPU: 0 PID: 97 at lib/test_hmm.c:280 dmirror_do_fault+0x1d6/0x2a0 [test_hmm]",
                     "[   12.6] RIP: 0010:dmirror_do_fault+0x1d6/0x2a0 [test_hmm]"]
        let fault = try #require(KernelFault.first(in: lines))
        #expect(fault.kind == .warning)
        #expect(fault.title == "WARNING in dmirror_do_fault")
    }

    @Test func aWarningThenAnOopsAreTwoReportsAndTheFirstCounts() throws {
        let lines = ["WARNING: CPU: 0 PID: 97 at mm/migrate_device.c:100 migrate_vma_collect_pmd+0x10/0x20",
                     "RIP: 0010:migrate_vma_collect_pmd+0x10/0x20",
                     "BUG: kernel NULL pointer dereference, address: 0000000000000008",
                     "RIP: 0010:dmirror_do_read+0x65/0x80 [test_hmm]"]
        let fault = try #require(KernelFault.first(in: lines))
        #expect(fault.title == "WARNING in migrate_vma_collect_pmd")
    }

    @Test(arguments: [
        ("kernel BUG at mm/migrate.c:312!", "kernel BUG at mm/migrate.c"),
        ("BUG: Bad page state in process hmmkit  pfn:1a2b3", "BUG: Bad page state"),
        ("Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009", "kernel panic: Attempted to kill init!"),
        ("watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [hmmkit:40]", "soft lockup"),
    ])
    func titlesDropWhatChangesBetweenBoots(line: String, title: String) throws {
        #expect(try #require(KernelFault.first(in: [line])).title == title)
    }

    @Test(arguments: ["", "random console noise", "BUG", "RIP: 0010:", "Call Trace:", "? +0x/0x", "WARNING: no place"])
    func noiseIsNoFault(line: String) {
        #expect(KernelFault.first(in: [line, line]) == nil)
    }
}
