import Testing
@testable import SluiceServer

@Suite("Command names")
struct CommandNameIndexTests {
    private let table = CommandTable.all

    private func position(_ name: String) -> Int? {
        table.lookup(Array(name.utf8))
    }

    @Test("the command whose log ends are prefetched is the one family that keeps sliding-window logs")
    func logCommandIsTheSlidingWindowFamily() {
        #expect(table.logCommand >= 0)
        #expect(SlidingWindowCommands.specs.map(\.name) == [table.specs[table.logCommand].name])
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
                // A capital with the high bit set is not a capital: 0xC1 is not 'a'.
                changed = name
                changed[index] = (name[index] & ~0x20) | 0x80
                misses.append(changed)
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

    @Test("a name longer than 16 bytes is compared in the middle too, in any case")
    func longNames() {
        let index = CommandNameIndex(["first.command.with.a.long.name", "short"])
        let raw: (String) -> Int? = { name in Array(name.utf8).withUnsafeBytes { index.lookup($0) } }
        #expect(raw("first.command.with.a.long.name") == 0)
        #expect(raw("FIRST.Command.WITH.a.LONG.name") == 0)
        #expect(raw("SHORT") == 1)
        // The same first and last 8 bytes and length, another middle.
        #expect(raw("first.comXand.with.a.long.name") == nil)
        #expect(raw("first.command.with_a.long.name") == nil)
    }

    @Test("names shorter than 8 bytes differing in any one byte, or only in length, are told apart")
    func shortNames() {
        let names = ["a", "ab", "abc", "abcd", "abcde", "abcdef", "abcdefg", "abcdefgh"]
        let index = CommandNameIndex(names)
        let lookup: ([UInt8]) -> Int? = { name in name.withUnsafeBytes { index.lookup($0) } }
        for (position, name) in names.enumerated() {
            let bytes = Array(name.utf8)
            #expect(lookup(bytes) == position, "\(name)")
            #expect(lookup(Array(name.uppercased().utf8)) == position, "\(name)")
            for changed in bytes.indices {
                var near = bytes
                near[changed] = UInt8(ascii: "z")
                #expect(lookup(near) == nil, "\(String(decoding: near, as: UTF8.self))")
            }
            #expect(lookup(bytes + [0]) == nil, "\(name) and a zero byte")
        }
        #expect(lookup([]) == nil)
        #expect(lookup(Array("bcda".utf8)) == nil)
    }

    @Test("bytes with the high bit set are not letters: no case folding for them")
    func highBytes() {
        let index = CommandNameIndex(["caf\u{E9}"])  // UTF-8 63 61 66 C3 A9
        let bytes: ([UInt8]) -> Int? = { name in name.withUnsafeBytes { index.lookup($0) } }
        #expect(bytes([0x43, 0x41, 0x46, 0xC3, 0xA9]) == 0)
        // 0xC3 and 0xE3 differ as 'C' and 'c' do, in bit 5.
        #expect(bytes([0x63, 0x61, 0x66, 0xE3, 0xA9]) == nil)
    }
}
