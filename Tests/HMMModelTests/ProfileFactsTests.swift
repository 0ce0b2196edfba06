import HMMModel
import Testing

/// What depends on the running kernel's config is a fact read from it, not a property of
/// the release: the same 6.12 with and without CONFIG_SWAP gets two profiles.
@Suite struct ProfileFactsTests {
    @Test func swapDecidesWhetherMigrationKeepsTheDirtyBit() {
        let without = KernelProfile.linux6_12.withSwap(false)
        let with = KernelProfile.linux6_12.withSwap(true)
        #expect(without == KernelProfile.linux6_12)
        #expect(!without.isOn(KernelProfile.migrationKeepsDirty))
        #expect(with.isOn(KernelProfile.migrationKeepsDirty))
        #expect(with.reason(KernelProfile.migrationKeepsDirty).contains("CONFIG_SWAP=y"))
        #expect(with != without)
        // Every other switch is the release's.
        #expect(with.switches.filter { $0.name != KernelProfile.migrationKeepsDirty }
                == without.switches.filter { $0.name != KernelProfile.migrationKeepsDirty })
    }
}
