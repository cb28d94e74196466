/// Splits an inline command line into arguments with Redis's `sdssplitargs` rules:
/// arguments are separated by whitespace; `"double quotes"` take the escapes `\n \r \t \b
/// \a \\ \"` and `\xHH`; `'single quotes'` take `\'`; quotes may start inside an argument
/// (`a"b"` is `ab`), but a closing quote must be followed by whitespace or the line's end.
public enum RESPInlineSplitter {
    /// The arguments, or nil for an unterminated quote or a closing quote followed by a non-space.
    /// A NUL byte ends the line, as it ends the C string Redis splits.
    public static func split(_ line: UnsafeRawBufferPointer) -> [[UInt8]]? {
        let end = line.firstIndex(of: 0) ?? line.count
        /// The byte at `index`, or 0 past the end (Redis reads the C string's terminator).
        func byte(_ index: Int) -> UInt8 {
            index < end ? line[index] : 0
        }
        var arguments: [[UInt8]] = []
        var position = 0
        while true {
            while position < end && self.isSpace(line[position]) {
                position += 1
            }
            if position >= end {
                return arguments
            }
            var argument: [UInt8] = []
            var inDoubleQuotes = false
            var inSingleQuotes = false
            var done = false
            while !done {
                let current = byte(position)
                if inDoubleQuotes {
                    if current == UInt8(ascii: "\\") && byte(position + 1) == UInt8(ascii: "x"),
                        let high = self.hexValue(byte(position + 2)),
                        let low = self.hexValue(byte(position + 3))
                    {
                        argument.append(high << 4 | low)
                        position += 3
                    } else if current == UInt8(ascii: "\\") && byte(position + 1) != 0 {
                        position += 1
                        argument.append(self.unescape(byte(position)))
                    } else if current == UInt8(ascii: "\"") {
                        let next = byte(position + 1)
                        if next != 0 && !self.isSpace(next) {
                            return nil
                        }
                        done = true
                    } else if current == 0 {
                        return nil
                    } else {
                        argument.append(current)
                    }
                } else if inSingleQuotes {
                    if current == UInt8(ascii: "\\") && byte(position + 1) == UInt8(ascii: "'") {
                        position += 1
                        argument.append(UInt8(ascii: "'"))
                    } else if current == UInt8(ascii: "'") {
                        let next = byte(position + 1)
                        if next != 0 && !self.isSpace(next) {
                            return nil
                        }
                        done = true
                    } else if current == 0 {
                        return nil
                    } else {
                        argument.append(current)
                    }
                } else {
                    switch current {
                    case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"), 0:
                        done = true
                    case UInt8(ascii: "\""):
                        inDoubleQuotes = true
                    case UInt8(ascii: "'"):
                        inSingleQuotes = true
                    default:
                        argument.append(current)
                    }
                }
                if position < end {
                    position += 1
                }
            }
            arguments.append(argument)
        }
    }

    /// Splits `line` and appends its arguments to `commands` as words of one command, and
    /// returns how many; nil, having appended nothing, where `split` gives nil.
    static func append(_ line: UnsafeRawBufferPointer, to commands: inout RESPCommands) -> Int? {
        if let count = self.appendPlain(line, to: &commands) { return count }
        guard let arguments = self.split(line) else { return nil }
        for argument in arguments { commands.append(argument) }
        return arguments.count
    }

    /// The common line, without quotes, NUL, VT or FF: its arguments are the runs of bytes
    /// between spaces, tabs, CRs and LFs, appended straight from the line rather than
    /// built byte by byte as arrays. Nil, having appended nothing, for any other line.
    private static func appendPlain(_ line: UnsafeRawBufferPointer, to commands: inout RESPCommands) -> Int? {
        // First whether the line is plain and how many words it has, so that room is made
        // for exactly those: a connection keeps the room it once needed.
        var count = 0
        var inWord = false
        for byte in line {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"), 0, 0x0B, 0x0C:
                return nil
            default:
                let separator = separatesPlainWords(byte)
                if !separator && !inWord { count += 1 }
                inWord = !separator
            }
        }
        commands.appendWords(maxWords: count, maxBytes: line.count) { words in
            var start = -1
            for position in 0..<line.count {
                if separatesPlainWords(line[position]) {
                    if start >= 0 {
                        words.append(UnsafeRawBufferPointer(rebasing: line[start..<position]))
                        start = -1
                    }
                } else if start < 0 {
                    start = position
                }
            }
            if start >= 0 { words.append(UnsafeRawBufferPointer(rebasing: line[start...])) }
            return true
        }
        return count
    }

    /// What separates the words of a plain line: space, tab, LF, CR.
    @inline(__always)
    private static func separatesPlainWords(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
    }

    /// C's `isspace`: space, tab, LF, VT, FF, CR.
    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || (byte >= 0x09 && byte <= 0x0D)
    }

    /// The value of a hexadecimal digit, or nil.
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// The byte a backslash escape inside double quotes stands for; any other byte stands for itself.
    private static func unescape(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"): return 0x0A
        case UInt8(ascii: "r"): return 0x0D
        case UInt8(ascii: "t"): return 0x09
        case UInt8(ascii: "b"): return 0x08
        case UInt8(ascii: "a"): return 0x07
        default: return byte
        }
    }
}
