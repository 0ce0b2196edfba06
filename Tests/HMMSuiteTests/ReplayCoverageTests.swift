import HMMFixtures
import HMMKernel
import Testing
@testable import HMMSuite

@Suite struct ReplayCoverageTests {
    let module = ModuleSections(module: "test_hmm", sections: [(".text", 0xffff_ffff_a000_0000), (".init.text", 0xffff_ffff_a000_8000)])

    @Test func modulePCsBecomeSectionAndOffsetKernelPCsStay() {
        let (pcs, dropped) = ReplayCoverage.canonical(
            [0xffff_ffff_a000_0010, 0xffff_ffff_a000_8004, 0xffff_ffff_8112_3456, 0xffff_ffff_8112_3456, 0x1234], module: module)
        #expect(dropped == 1)
        #expect(pcs == [KCOVWire.modulePC(section: ".text", offset: 0x10)!, KCOVWire.modulePC(section: ".init.text", offset: 4)!,
                        0xffff_ffff_8112_3456].sorted())
    }

    @Test func withoutTheModuleItsPCsStayRawKernelAddresses() {
        let (pcs, dropped) = ReplayCoverage.canonical([0xffff_ffff_a000_0010], module: nil)
        #expect(pcs == [0xffff_ffff_a000_0010] && dropped == 0)
    }

    @Test func aSectionFarBelowAPCDoesNotClaimIt() {
        #expect(module.locate(0xffff_ffff_9000_0000) == nil)
        #expect(module.locate(0xffff_ffff_a000_8000 + (1 << 25)) == nil)
        #expect(module.locate(0xffff_ffff_a000_0004)?.name == ".text")
    }
}
