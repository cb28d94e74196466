extension RESPValue {
    /// Redis's text form of a double, as sent in RESP3 `,` replies and RESP2 bulk strings.
    ///
    /// The shortest digits that read back as the same double, laid out as Redis 7.2+ does:
    /// integral values without a fraction (`3`, `-0`), positional notation for moderate
    /// magnitudes (`0.0001`, `1.5`), scientific with an unpadded exponent otherwise
    /// (`1e+20`, `1.5e-7`), and `inf`, `-inf`, `nan`.
    public static func formatDouble(_ value: Double) -> String {
        self.withDoubleText(value) { String(decoding: $0, as: UTF8.self) }
    }

    /// Runs `body` with `formatDouble`'s text of `value`; the encoder writes it straight
    /// into a reply, without a String in between for the common cases.
    static func withDoubleText<R>(_ value: Double, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if value.isNaN {
            return body(UnsafeRawBufferPointer(staticText: "nan"))
        }
        if value.isInfinite {
            return body(UnsafeRawBufferPointer(staticText: value < 0 ? "-inf" : "inf"))
        }
        if value == 0 {
            return body(UnsafeRawBufferPointer(staticText: value.sign == .minus ? "-0" : "0"))
        }
        // Fast paths for what rate-limit replies mostly hold (seconds such as 1, 0.4,
        // 59.5): there Redis's layout and Swift's shortest form agree, and going through
        // `ShortestDecimal` would cost more than the rest of the command.
        let magnitude = value.magnitude
        if magnitude < 1e7 && value == value.rounded(.towardZero) {
            return self.withNanoDecimalText(value, body)!
        }
        if magnitude >= 1e-3 && magnitude < 1e4, let result = self.withNanoDecimalText(value, body) {
            return result
        }
        var text = magnitude >= 1e-3 && magnitude < 1e4 ? value.description : ShortestDecimal(value).redisText()
        return text.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }
}

extension RESPValue {
    /// Runs `body` with the text of a value in [1e-3, 1e4) that is a whole number of
    /// billionths, as rate-limit times (nanoseconds over 1e9) are, written into a buffer
    /// on the stack; nil for any other value. Also exact for whole numbers below 1e7,
    /// whose billionths still fit the integer arithmetic.
    ///
    /// It is the same text as the shortest round-trip form: below 1e4 doubles are
    /// closer together than 1e-9, so no other decimal of at most nine places reads
    /// back as this double, and one with more places has more digits. Integer
    /// arithmetic instead of the general shortest-digits search.
    static func withNanoDecimalText<R>(_ value: Double, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        let scaled = (value * 1e9).rounded()
        guard scaled / 1e9 == value else { return nil }
        var remaining = Int64(scaled).magnitude
        let whole = remaining / 1_000_000_000
        var fraction = remaining % 1_000_000_000
        var places = 9
        while fraction % 10 == 0 && places > 0 {
            fraction /= 10
            places -= 1
        }
        remaining = whole
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &digits) { buffer -> R in
            // Written backwards from the end: fraction, point, whole part, sign.
            var index = buffer.count
            for _ in 0..<places {
                index -= 1
                buffer[index] = ASCII.zero &+ UInt8(truncatingIfNeeded: fraction % 10)
                fraction /= 10
            }
            if places > 0 {
                index -= 1
                buffer[index] = UInt8(ascii: ".")
            }
            repeat {
                index -= 1
                buffer[index] = ASCII.zero &+ UInt8(truncatingIfNeeded: remaining % 10)
                remaining /= 10
            } while remaining > 0
            if value < 0 {
                index -= 1
                buffer[index] = ASCII.minus
            }
            return body(UnsafeRawBufferPointer(rebasing: buffer[index...]))
        }
    }
}

/// A finite, non-zero double as `digits × 10^exponent`, with the fewest digits that round-trip
/// and no trailing zeros in `digits`.
private struct ShortestDecimal {
    var negative: Bool
    var digits: [UInt8]
    var exponent: Int

    /// Reads the digits off Swift's `description`, which prints the shortest round-trip form
    /// as `123.45`, `1e-05` or `1.2345e+16`.
    init(_ value: Double) {
        self.negative = value.sign == .minus
        self.digits = []
        self.exponent = 0
        var fractionDigits = 0
        var seenPoint = false
        var exponentText: Substring = ""
        let text = value.magnitude.description
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if character == "." {
                seenPoint = true
            } else if character == "e" || character == "E" {
                exponentText = text[text.index(after: index)...]
                break
            } else if let digit = character.asciiValue, digit >= ASCII.zero, digit <= ASCII.nine {
                if !(self.digits.isEmpty && digit == ASCII.zero) {
                    self.digits.append(digit)
                }
                if seenPoint {
                    fractionDigits += 1
                }
            }
            index = text.index(after: index)
        }
        var trailingZeros = 0
        while self.digits.count > 1, self.digits.last == ASCII.zero {
            self.digits.removeLast()
            trailingZeros += 1
        }
        let statedExponent = Int(exponentText.hasPrefix("+") ? exponentText.dropFirst() : exponentText) ?? 0
        self.exponent = statedExponent - fractionDigits + trailingZeros
    }

    /// Positional when it stays short (Redis's rule: an integer with fewer than eight
    /// trailing zeros, a fraction with at most six decimals or a magnitude under 10^4),
    /// scientific otherwise.
    func redisText() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(26)
        if self.negative {
            out.append(ASCII.minus)
        }
        let count = self.digits.count
        let pointExponent = self.exponent + count - 1
        let distance = abs(pointExponent)
        if self.exponent >= 0 && distance < count + 7 {
            out.append(contentsOf: self.digits)
            out.append(contentsOf: repeatElement(ASCII.zero, count: self.exponent))
        } else if self.exponent < 0 && (self.exponent > -7 || distance < 4) {
            let integerDigits = count + self.exponent
            if integerDigits <= 0 {
                out.append(ASCII.zero)
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: repeatElement(ASCII.zero, count: -integerDigits))
                out.append(contentsOf: self.digits)
            } else {
                out.append(contentsOf: self.digits[..<integerDigits])
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: self.digits[integerDigits...])
            }
        } else {
            out.append(self.digits[0])
            if count > 1 {
                out.append(UInt8(ascii: "."))
                out.append(contentsOf: self.digits[1...])
            }
            out.append(UInt8(ascii: "e"))
            out.append(pointExponent < 0 ? ASCII.minus : ASCII.plus)
            out.append(contentsOf: String(distance).utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension UnsafeRawBufferPointer {
    /// The bytes of a string literal, which live as long as the program.
    init(staticText text: StaticString) {
        self.init(start: text.utf8Start, count: text.utf8CodeUnitCount)
    }
}
