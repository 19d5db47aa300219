import Testing

@testable import LDAPClient

@Suite struct StableIDTests {
    @Test func objectGUIDUsesMicrosoftByteOrder() {
        // The example GUID from [MS-DTYP] 2.3.4: {3F2504E0-4F89-11D3-9A0C-0305E82C3301}.
        let stored: [UInt8] = [
            0xE0, 0x04, 0x25, 0x3F, 0x89, 0x4F, 0xD3, 0x11, 0x9A, 0x0C, 0x03, 0x05, 0xE8, 0x2C, 0x33, 0x01,
        ]
        #expect(StableID.canonical(stored, attribute: "objectGUID") == "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
        #expect(StableID.guidBytes("3F2504E0-4F89-11D3-9A0C-0305E82C3301") == stored)
    }

    @Test func entryUUIDIsLowercased() {
        let value = Array("6B29FC40-CA47-1067-B31D-00DD010662DA".utf8)
        #expect(StableID.canonical(value, attribute: "entryUUID") == "6b29fc40-ca47-1067-b31d-00dd010662da")
    }

    @Test func binaryValuesWithNULAreNotTruncated() {
        let stored: [UInt8] = [
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        ]
        #expect(StableID.canonical(stored, attribute: "objectGUID") == "00000000-0000-0000-0000-000000000001")
    }

    @Test func otherAttributesAreKeptAsIs() {
        #expect(StableID.canonical(Array("E1234".utf8), attribute: "employeeNumber") == "E1234")
    }
}
