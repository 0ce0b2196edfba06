import Testing

@testable import HMMSuite

@Suite struct KernelConfigTests {
    @Test func readsSetOptionsAndSkipsTheRest() {
        let text = """
            #
            # Automatically generated file; DO NOT EDIT.
            CONFIG_CC_VERSION_TEXT="gcc (Debian 12.2.0-14+deb12u1) 12.2.0"
            CONFIG_HMM_MIRROR=y
            # CONFIG_SWAP is not set
            CONFIG_TEST_HMM=m
            CONFIG_CMDLINE="a=b c=d"
            CONFIG_NO_EQUALS_SIGN
            NOT_CONFIG_X=y

            CONFIG_NR_CPUS=64
            """
        let config = KernelConfig.parse(text)
        #expect(config["CONFIG_HMM_MIRROR"] == "y")
        #expect(config["CONFIG_TEST_HMM"] == "m")
        #expect(config["CONFIG_CMDLINE"] == "\"a=b c=d\"")
        #expect(config["CONFIG_CC_VERSION_TEXT"] == "\"gcc (Debian 12.2.0-14+deb12u1) 12.2.0\"")
        #expect(config["CONFIG_NR_CPUS"] == "64")
        #expect(config["CONFIG_SWAP"] == nil)
        #expect(config["CONFIG_NO_EQUALS_SIGN"] == nil)
        #expect(config.count == 5)
    }

    @Test func emptyAndTrailingNewline() {
        #expect(KernelConfig.parse("").isEmpty)
        #expect(KernelConfig.parse("CONFIG_A=y\n") == ["CONFIG_A": "y"])
        #expect(KernelConfig.parse("CONFIG_A=") == ["CONFIG_A": ""])
    }
}
