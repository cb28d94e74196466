import Testing
@testable import SluiceServer

@Suite("Option names packed into integers")
struct PackedOptionTests {
    /// Each case's raw value against its name: the literals are written by hand.
    private func names<Option: PackedOption>(_: Option.Type) -> [String: UInt64] {
        Dictionary(uniqueKeysWithValues: Option.allCases.map { ("\($0)".uppercased(), $0.rawValue) })
    }

    private func packed(_ text: String) -> UInt64? {
        Array(text.utf8).withUnsafeBytes(packedOptionName)
    }

    @Test("every option's raw value is its name packed", arguments: [
        StringCommands.ExpiryUnit.self as any PackedOption.Type,
        StringCommands.SetOption.self,
        StringCommands.GetexOption.self,
        ListEnd.self,
    ])
    func rawValuesAreNames(_ type: any PackedOption.Type) {
        for (name, value) in names(type) {
            #expect(packed(name) == value, "\(type).\(name.lowercased())")
        }
    }

    @Test("names match in any case; longer, shorter, empty or NUL-holding words do not")
    func matching() {
        #expect(packed("ex") == StringCommands.ExpiryUnit.ex.rawValue)
        #expect(packed("KeepTtl") == StringCommands.SetOption.keepttl.rawValue)
        #expect(packed("EX\0") == nil && packed("") == nil && packed("WITHSCORES") == nil)
        #expect(packed("EXATX").flatMap(StringCommands.ExpiryUnit.init) == nil)
        #expect(packed("E").flatMap(StringCommands.ExpiryUnit.init) == nil)
        // Only letters change case: "[" is "{" with 0x20 cleared, and must not match it.
        #expect(packed("{") != packed("["))
    }
}
