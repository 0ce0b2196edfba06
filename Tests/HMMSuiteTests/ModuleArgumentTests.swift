import HMMSuite
import Testing

@Suite struct ModuleArgumentTests {
    @Test func parametersAreNameEqualsValue() throws {
        let p = try ModuleParameterValue(parsing: "spm_addr_dev0=0x4=0")
        #expect(p.name == "spm_addr_dev0" && p.value == "0x4=0")
        #expect(p.description == "spm_addr_dev0=0x4=0")
        #expect(throws: ModuleArgumentError("parameter 'spm_addr_dev0' is not NAME=VALUE")) {
            try ModuleParameterValue(parsing: "spm_addr_dev0")
        }
    }

    @Test func spmIsTwoHexAddresses() throws {
        let spm = try SPMAddresses(parsing: "0x40000000,0x50000000")
        #expect(spm.parameters.map(\.description) == ["spm_addr_dev0=0x40000000", "spm_addr_dev1=0x50000000"])
        for bad in ["zz", "0x1", "0x1,0x2,0x3", "40000000,50000000", "0xg,0x1"] {
            #expect(throws: ModuleArgumentError.self, "\(bad)") { try SPMAddresses(parsing: bad) }
        }
    }
}
