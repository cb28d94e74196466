import Testing
@testable import SluiceServer

@Suite("Command names")
struct CommandNameIndexTests {
    private let table = CommandTable.all

    private func position(_ name: String) -> Int? {
        table.lookup(Array(name.utf8))
    }

    @Test("every command is found by its name in lower, upper and mixed case")
    func everyNameInAnyCase() {
        for (expected, spec) in table.specs.enumerated() {
            let name = spec.name
            let mixed = String(name.enumerated().map { $0.offset % 2 == 0 ? Character($0.element.uppercased()) : $0.element })
            #expect(position(name.lowercased()) == expected, "\(name)")
            #expect(position(name.uppercased()) == expected, "\(name)")
            #expect(position(mixed) == expected, "\(mixed)")
        }
    }

    @Test("a name one byte off, cut short, run on, or differing in a byte that is not a letter is unknown")
    func nearMissesAreUnknown() {
        for spec in table.specs {
            let name = Array(spec.name.lowercased().utf8)
            var misses: [[UInt8]] = [Array(name.dropLast()), name + [UInt8(ascii: "x")], [UInt8(ascii: "x")] + name]
            for index in name.indices {
                var changed = name
                changed[index] ^= 0x01
                misses.append(changed)
                // Bit 5 folds the case of letters only: '_' and DEL, '.' and 0x0E stay apart.
                changed = name
                changed[index] ^= 0x20
                if !(name[index] >= 97 && name[index] <= 122) { misses.append(changed) }
            }
            for miss in misses {
                let text = String(decoding: miss, as: UTF8.self)
                // A miss that happens to be another command's name finds that command.
                let expected = table.specs.firstIndex { $0.name.lowercased() == text.lowercased() }
                #expect(table.lookup(miss) == expected, "\(text)")
            }
        }
        #expect(position("") == nil)
        #expect(position("cl_throttle") == nil)
        #expect(position("CL.THROTTLE\u{7F}") == nil)
    }
}
