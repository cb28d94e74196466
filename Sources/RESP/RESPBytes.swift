import NIOCore

/// ASCII bytes the protocol is framed with.
enum ASCII {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
}

extension ByteBuffer {
    /// Absolute index of the first `byte` at or after absolute index `start`, among the readable bytes.
    func respFirstIndex(of byte: UInt8, from start: Int) -> Int? {
        self.withUnsafeReadableBytes { raw -> Int? in
            var offset = start - self.readerIndex
            let end = raw.count
            while offset < end {
                if raw[offset] == byte {
                    return offset + self.readerIndex
                }
                offset += 1
            }
            return nil
        }
    }

    /// Parses the readable bytes in `start..<end` with `parse`, without copying them.
    func respWithBytes<T>(from start: Int, to end: Int, _ parse: (UnsafeRawBufferPointer) -> T) -> T {
        self.withUnsafeReadableBytes { raw in
            let lower = start - self.readerIndex
            let upper = end - self.readerIndex
            return parse(UnsafeRawBufferPointer(rebasing: raw[lower..<upper]))
        }
    }
}

enum RESPInteger {
    /// Redis's `string2ll`: plain decimal with an optional `-`, no `+`, no spaces, no leading
    /// zeros (except `0` itself), no `-0`, within `Int`'s range.
    static func parseStrict(_ bytes: UnsafeRawBufferPointer) -> Int? {
        if bytes.isEmpty {
            return nil
        }
        if bytes.count == 1 && bytes[0] == ASCII.zero {
            return 0
        }
        var index = 0
        let negative = bytes[0] == ASCII.minus
        if negative {
            index = 1
        }
        guard index < bytes.count, bytes[index] > ASCII.zero, bytes[index] <= ASCII.nine else {
            return nil
        }
        return self.accumulate(bytes, from: index, negative: negative)
    }

    /// A RESP reply integer: optional `-` or `+`, then at least one digit, within `Int`'s range.
    static func parseLenient(_ bytes: UnsafeRawBufferPointer) -> Int? {
        guard !bytes.isEmpty else {
            return nil
        }
        var index = 0
        let negative = bytes[0] == ASCII.minus
        if negative || bytes[0] == ASCII.plus {
            index = 1
        }
        guard index < bytes.count else {
            return nil
        }
        return self.accumulate(bytes, from: index, negative: negative)
    }

    /// Accumulates the digits `bytes[index...]` towards the sign, failing on a non-digit or overflow.
    private static func accumulate(_ bytes: UnsafeRawBufferPointer, from index: Int, negative: Bool) -> Int? {
        var value = 0
        var index = index
        while index < bytes.count {
            let byte = bytes[index]
            guard byte >= ASCII.zero, byte <= ASCII.nine else {
                return nil
            }
            let digit = Int(byte &- ASCII.zero)
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) =
                negative
                ? shifted.subtractingReportingOverflow(digit)
                : shifted.addingReportingOverflow(digit)
            if overflow1 || overflow2 {
                return nil
            }
            value = next
            index += 1
        }
        return value
    }
}
