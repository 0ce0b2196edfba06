import HMMSystem
import Testing

@testable import HMMKernel

#if canImport(Glibc)
import Glibc
#endif

/// Slots must never start where another mapping ends: test_hmm drops the mirror entry one
/// page past every invalidated range, so a neighbour's munmap would reach the slot's page 0.
@Suite struct SlotGuardTests {
    @Test(arguments: [UInt64(0x7f00_0000_0000), 0x7f00_0000_1000, 0x7f00_001f_f000, 0x7f00_0010_0000])
    func slotStartsAPageOrMoreAboveTheReservation(base: UInt64) {
        let pmd = UInt64(VirtualMemory.pmdBytes)
        let slot = VirtualMemory.slotStart(inReservationAt: base, pageSize: 4096)
        #expect(slot % pmd == 0)
        #expect(slot >= base + 4096, "no guard page below the slot")
        #expect(slot <= base + pmd, "a rounded + 2 MiB reservation would leave less than 2 MiB above")
    }

    /// On this machine: the page below every slot, and the 2 MiB above it, belong to a
    /// PROT_NONE reservation of this process, whatever alignment mmap happened to return.
    @Test func reservedPagesSurroundEverySlot() throws {
        let bytes = 4 * 4096
        for _ in 0..<8 {
            let slot = try VirtualMemory.reserveSlot(bytes: bytes)
            let maps = try readTextFile("/proc/self/maps")
            #expect(Self.permissions(of: slot - 4096, in: maps) == "---p", "page below the slot at \(String(slot, radix: 16))")
            #expect(Self.permissions(of: slot + UInt64(VirtualMemory.pmdBytes), in: maps) == "---p", "guard above the slot")
        }
    }

    static func permissions(of address: UInt64, in maps: String) -> String? {
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ")
            let range = fields[0].split(separator: "-").compactMap { UInt64($0, radix: 16) }
            if range.count == 2, range[0] <= address, address < range[1] { return String(fields[1]) }
        }
        return nil
    }
}

@Suite struct TemporaryDirectoryTests {
    @Test func isNewPrivateAndUnpredictable() throws {
        let a = try makeTemporaryDirectory(in: "/tmp", prefix: "hmmkit-test-")
        let b = try makeTemporaryDirectory(in: "/tmp", prefix: "hmmkit-test-")
        defer { _ = Glibc.rmdir(a); _ = Glibc.rmdir(b) }
        #expect(a != b)
        #expect(a.hasPrefix("/tmp/hmmkit-test-") && a.count == "/tmp/hmmkit-test-".count + 6)
        var st = stat()
        #expect(stat(a, &st) == 0)
        #expect(st.st_mode & 0o777 == 0o700)
    }
}
