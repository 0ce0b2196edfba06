import HMMModel
import Testing

/// What depends on the running kernel's config is a fact read from it, not a property of
/// the release: the same 6.12 with and without CONFIG_SWAP gets two profiles.
@Suite struct ProfileFactsTests {
    @Test func swapDecidesWhetherMigrationKeepsTheDirtyBit() {
        let without = KernelProfile.linux6_12.withSwap(false)
        let with = KernelProfile.linux6_12.withSwap(true)
        #expect(without == KernelProfile.linux6_12)
        #expect(!without.isOn(.migrationKeepsDirty))
        #expect(with.isOn(.migrationKeepsDirty))
        #expect(with.reason(.migrationKeepsDirty).contains("CONFIG_SWAP=y"))
        #expect(with != without)
        // Every other switch is the release's.
        #expect(with.switches.filter { $0.behaviour != .migrationKeepsDirty }
                == without.switches.filter { $0.behaviour != .migrationKeepsDirty })
    }

    /// Each profile says yes or no to every behaviour, once, so ``KernelProfile/isOn(_:)``
    /// never falls back to "off" for a behaviour a profile forgot.
    @Test func everyProfileDecidesEveryBehaviourOnce() {
        for profile in KernelProfile.all + KernelProfile.all.map({ $0.withSwap(true) }) {
            let names = profile.switches.map(\.name)
            #expect(names.sorted() == Behaviour.allCases.map(\.rawValue).sorted(), "\(profile)")
        }
    }

    /// Text names the switches (reasons, messages): the raw values are that text.
    @Test func switchesKeepTheirNamesInText() throws {
        #expect(Behaviour(rawValue: "mirror-invalidate-one-past-end") == .invalidateOnePastEnd)
        #expect(Behaviour(rawValue: "move-pages-hole-efault") == .movePagesHoleIsEFAULT)
        #expect(Behaviour(rawValue: "move-pages-hole-fault") == nil)
        let named = try #require(Behaviour(rawValue: "move-pages-hole-efault"))
        #expect(KernelProfile.linux6_1.isOn(named) && !KernelProfile.linux6_12.isOn(named))
    }
}
