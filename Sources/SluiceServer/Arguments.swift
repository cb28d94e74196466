import RESP
import SluiceCore

/// A cursor over one command's words (after the command name), with the conversions
/// commands need. Every failure is a `CommandError` with Redis's text.
///
/// The words stay in the read burst's shared storage; numbers are parsed in place and
/// only words a command keeps are copied out.
struct Arguments {
    /// The burst the command is part of.
    let commands: RESPCommands
    /// The index in `commands` of the command's name.
    private var base: Int
    /// All words of the command, its name included.
    private(set) var count: Int
    private(set) var position: Int

    /// Command `index` of a decoded burst.
    init(_ commands: RESPCommands, command index: Int) {
        self.commands = commands
        (base, count, position) = (0, 0, 1)
        select(command: index)
    }

    /// Moves to command `index` of the same burst, its cursor after the name: one
    /// `Arguments` serves a whole burst without counting references to its storage again.
    mutating func select(command index: Int) {
        let words = commands.words(of: index)
        self.base = words.lowerBound
        self.count = words.count
        self.position = 1
    }

    /// A command given as its words (scripts, tests).
    init(_ words: [[UInt8]], from position: Int = 1) {
        self.commands = RESPCommands([words])
        self.base = 0
        self.count = words.count
        self.position = position
    }

    var remaining: Int { count - position }
    var isEmpty: Bool { position >= count }

    /// The word at `index` (0 is the command name), regardless of the cursor.
    subscript(index: Int) -> [UInt8] { commands.word(base + index) }

    /// Reads the word at `index` in place.
    @inline(__always) @discardableResult
    func withWord<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        commands.withWord(base + index, body)
    }

    /// Skips the next argument and returns its index, for a key that is only looked up:
    /// `withKey` then reads it in place instead of copying it.
    mutating func nextIndex() throws(CommandError) -> Int {
        guard position < count else { throw .syntax }
        defer { position += 1 }
        return position
    }

    /// Runs `body` with the word at `index` in place.
    @inline(__always)
    func withKey<R>(_ index: Int, _ body: (UnsafeRawBufferPointer) throws(CommandError) -> R) throws(CommandError) -> R {
        let result = commands.withWord(base + index) { raw -> Result<R, CommandError> in
            do throws(CommandError) {
                return .success(try body(raw))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// All words, the name included.
    var words: [[UInt8]] { (0..<count).map { self[$0] } }

    /// The next argument as bytes; a syntax error when there is none.
    mutating func next() throws(CommandError) -> [UInt8] {
        guard position < count else { throw .syntax }
        defer { position += 1 }
        return self[position]
    }

    /// The next argument where it lies, for a key or member that is looked up or copied
    /// into a collection: an array per argument cost more than most commands' own work.
    mutating func nextWord() throws(CommandError) -> ArgumentWord {
        guard position < count else { throw .syntax }
        defer { position += 1 }
        return ArgumentWord(commands: commands, index: base + position)
    }

    /// The next argument as text (for option names and other ASCII words).
    mutating func nextString() throws(CommandError) -> String {
        String(decoding: try next(), as: UTF8.self)
    }

    /// The next argument upper-cased, for case-insensitive option matching.
    mutating func nextKeyword() throws(CommandError) -> String {
        guard let keyword = try nextParsed(asciiUppercased) else { throw .syntax }
        return keyword
    }

    /// The next argument packed as an option name (`packedOptionName`), 0 when it cannot
    /// be one, for a `PackedOption`'s `init(rawValue:)`: compared as Redis compares option
    /// names (ignoring ASCII case) without making a String.
    @inline(__always)
    mutating func nextOptionName() throws(CommandError) -> UInt64 {
        try nextParsed { packedOptionName($0) ?? 0 } ?? 0
    }

    /// The next argument as one of `Option`'s cases; a syntax error when it is none.
    @inline(__always)
    mutating func nextOption<Option: PackedOption>(_: Option.Type) throws(CommandError) -> Option {
        guard let option = Option(rawValue: try nextOptionName()) else { throw .syntax }
        return option
    }

    /// The next argument upper-cased without consuming it, or nil at the end.
    func peekKeyword() -> String? {
        position < count ? withWord(position, asciiUppercased) : nil
    }

    /// `peekKeyword`, but nil without making a string when the next argument does not
    /// start with a letter, as no option does: ZADD's scores are not looked up as options.
    func peekOption() -> String? {
        guard position < count, withWord(position, { $0.first.map { ($0 | 0x20) &- UInt8(ascii: "a") < 26 } ?? false })
        else { return nil }
        return peekKeyword()
    }

    mutating func nextInteger() throws(CommandError) -> Int64 {
        guard let value = try nextParsed(parseInteger) else { throw .notInteger }
        return value
    }

    mutating func nextDouble() throws(CommandError) -> Double {
        guard let value = try nextParsed(parseDouble) else { throw .notFloat }
        return value
    }

    /// The next argument parsed in place by `parse`; a syntax error when there is none.
    @inline(__always)
    mutating func nextParsed<T>(_ parse: (UnsafeRawBufferPointer) -> T?) throws(CommandError) -> T? {
        guard position < count else { throw .syntax }
        defer { position += 1 }
        return withWord(position, parse)
    }

    /// The indices of the arguments not consumed yet, to read each in place with `withWord`.
    var restIndices: Range<Int> { position..<count }

    /// All arguments not consumed yet.
    mutating func rest() -> [[UInt8]] {
        defer { position = count }
        return (position..<count).map { self[$0] }
    }

    /// The words from the cursor to the end packed into one array, for `restEquals`; nil if
    /// a word is longer than 255 bytes.
    func packedRest() -> [UInt8]? {
        commands.packed(base + position..<base + count)
    }

    /// Whether the words from the cursor to the end are those `packedRest` packed.
    func restEquals(_ packed: [UInt8]) -> Bool {
        commands.wordsEqual(base + position..<base + count, packed: packed)
    }

    /// Rejects leftover arguments.
    func finish() throws(CommandError) {
        if position < count { throw .syntax }
    }
}

/// A key or member as commands hold it: an array, or an argument read in place.
protocol KeyBytes {
    /// What `body` returns; a write's flag may be left unused.
    @discardableResult
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R
}

/// Whether two keys or members hold the same bytes, wherever each lies.
func sameBytes<A: KeyBytes, B: KeyBytes>(_ first: A, _ second: B) -> Bool {
    first.withBytes { first in second.withBytes { first.elementsEqual($0) } }
}

extension Array: KeyBytes where Element == UInt8 {
    @inline(__always) @discardableResult
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        withUnsafeBytes(body)
    }
}

/// One argument of a command, read in place in the read burst's storage (`Arguments.nextWord`).
/// Holding the storage costs a few reference counts, so the busiest single-key commands
/// (`GET`, `SET`, `INCR`, the rate-limit commands) read their key by index (`withKey`).
struct ArgumentWord: KeyBytes {
    fileprivate let commands: RESPCommands
    fileprivate let index: Int

    @inline(__always) @discardableResult
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        commands.withWord(index, body)
    }

    /// `withBytes` for a body that can fail.
    func withBytes<R>(throwing body: (UnsafeRawBufferPointer) throws(CommandError) -> R) throws(CommandError) -> R {
        try withBytes { bytes in Result(catching: { () throws(CommandError) in try body(bytes) }) }.get()
    }

    /// A copy, for a caller that keeps it.
    var array: [UInt8] { commands.word(index) }
}

/// Option names of a command, each case's raw value its name as `packedOptionName`
/// packs it; a test checks every case against its name. A word of up to 8 bytes
/// compared as one integer: making a String of each option and comparing it with
/// each name took about 250 instructions for SET's `EX`.
protocol PackedOption: RawRepresentable<UInt64>, CaseIterable, Sendable {}

/// The word upper-cased (ASCII) in the bytes of an integer, the first byte lowest; nil
/// for a word that no option name can be (longer than 8 bytes, empty, or holding a NUL,
/// which would pack as a shorter name).
@inline(__always)
func packedOptionName(_ bytes: UnsafeRawBufferPointer) -> UInt64? {
    guard bytes.count > 0, bytes.count <= 8 else { return nil }
    var packed: UInt64 = 0
    for index in 0..<bytes.count {
        let byte = bytes[index]
        guard byte != 0 else { return nil }
        packed |= UInt64(byte &- 97 < 26 ? byte &- 32 : byte) << (8 * index)
    }
    return packed
}

/// A word with ASCII letters upper-cased, as Redis compares option names
/// (`strcasecmp`); short words make a String without allocating.
func asciiUppercased(_ bytes: UnsafeRawBufferPointer) -> String? {
    String(unsafeUninitializedCapacity: bytes.count) { buffer in
        for index in 0..<bytes.count {
            let byte = bytes[index]
            buffer[index] = byte >= 97 && byte <= 122 ? byte - 32 : byte
        }
        return bytes.count
    }
}

/// Redis's strict integer syntax: optional '-', digits, no leading zeros, no '+',
/// no spaces, within Int64.
func parseInteger(_ bytes: [UInt8]) -> Int64? {
    bytes.withUnsafeBytes(parseInteger)
}

func parseInteger(_ bytes: UnsafeRawBufferPointer) -> Int64? {
    guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
    var index = 0
    let negative = bytes[0] == UInt8(ascii: "-")
    if negative { index = 1 }
    guard index < bytes.count else { return nil }
    if bytes[index] == UInt8(ascii: "0") {
        // "0" alone is fine; "01" and "-0" are not.
        return bytes.count == 1 ? 0 : nil
    }
    var magnitude: UInt64 = 0
    while index < bytes.count {
        let digit = bytes[index] &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
        guard !o1, !o2 else { return nil }
        magnitude = sum
        index += 1
    }
    if negative {
        guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
        return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
    }
    guard magnitude <= UInt64(Int64.max) else { return nil }
    return Int64(magnitude)
}

/// A double as Redis accepts it: decimal or exponent form, `inf`/`-inf`, no spaces, no
/// NUL byte (Swift's parser reads a C string, which would end there), never NaN.
func parseDouble(_ bytes: [UInt8]) -> Double? {
    bytes.withUnsafeBytes(parseDouble)
}

func parseDouble(_ bytes: UnsafeRawBufferPointer) -> Double? {
    guard !bytes.isEmpty, bytes.count <= 256 else { return nil }
    // Whole numbers ("1", "60") are the common case and need no text conversion.
    if let integer = parseInteger(bytes), integer.magnitude < 1 << 53 { return Double(integer) }
    guard let first = bytes.first, first != UInt8(ascii: " "), bytes.last != UInt8(ascii: " "), !bytes.contains(0) else {
        return nil
    }
    let text = String(decoding: bytes, as: UTF8.self)
    switch text.lowercased() {
    case "inf", "+inf", "infinity", "+infinity": return .infinity
    case "-inf", "-infinity": return -.infinity
    default: break
    }
    guard let value = Double(text), !value.isNaN else { return nil }
    return value
}

/// Integer as its decimal bytes, as Redis stores counters.
func integerBytes(_ value: Int64) -> [UInt8] {
    var bytes: [UInt8] = []
    appendDecimal(value, to: &bytes)
    return bytes
}

/// Appends the decimal digits of `value`, without going through a String.
func appendDecimal(_ value: Int64, to bytes: inout [UInt8]) {
    if value < 0 { bytes.append(UInt8(ascii: "-")) }
    var magnitude = value.magnitude
    let start = bytes.count
    repeat {
        bytes.append(UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10))
        magnitude /= 10
    } while magnitude > 0
    bytes[start...].reverse()
}
