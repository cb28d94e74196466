import CFloatText
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// INCRBYFLOAT and HINCRBYFLOAT compute in C's `long double`, as Redis does, so that
/// `0.1` then `+0.2` reads back as `0.3` and large sums keep Redis's digits. That type
/// is `Float80` on x86; elsewhere Swift has no wider type and `Double` is used.
#if arch(x86_64) || arch(i386)
typealias LongDouble = Float80
#else
typealias LongDouble = Double
#endif

/// Redis's `string2ld`: the whole text is a number `strtold` accepts (decimal, exponent,
/// hex, `inf`), without leading space, not NaN and not out of `long double`'s range. A NUL
/// byte would end the C string early and hide what follows it, so it is refused.
func parseLongDouble(_ bytes: [UInt8]) -> LongDouble? {
    bytes.withUnsafeBytes { parseLongDouble($0) }
}

/// `parseLongDouble` on bytes in place.
func parseLongDouble(_ bytes: UnsafeRawBufferPointer) -> LongDouble? {
    guard !bytes.isEmpty, bytes.count < 5 * 1024, bytes[0] != UInt8(ascii: " "), !(9...13).contains(bytes[0]),
        !bytes.contains(0)
    else {
        return nil
    }
    #if arch(x86_64) || arch(i386)
    let parsed = parseCString(bytes) { strtold($0, $1) }
    #else
    let parsed = parseCString(bytes) { strtod($0, $1) }
    #endif
    guard let (value, outOfRange) = parsed, !value.isNaN else { return nil }
    if outOfRange && (value.isInfinite || value == 0) { return nil }
    return value
}

/// Runs one of C's `strto*` parsers on `bytes` as Redis runs it on its strings, which
/// end at a NUL: the value and whether it was out of range (`ERANGE`), or nil unless
/// the parser read all of the C string.
func parseCString<T>(
    _ bytes: [UInt8], _ parse: (UnsafePointer<CChar>, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T
) -> (value: T, outOfRange: Bool)? {
    bytes.withUnsafeBytes { parseCString($0, parse) }
}

/// `parseCString` on bytes in place, copied with their NUL to the stack (a score or an
/// increment is short), not to two arrays on the heap.
func parseCString<T>(
    _ bytes: UnsafeRawBufferPointer, _ parse: (UnsafePointer<CChar>, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> T
) -> (value: T, outOfRange: Bool)? {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { text in
        UnsafeMutableRawBufferPointer(text).copyMemory(from: bytes)
        text[bytes.count] = 0
        var end: UnsafeMutablePointer<CChar>?
        errno = 0
        let value = parse(text.baseAddress!, &end)
        guard let end, end.pointee == 0 else { return nil }
        return (value, errno == ERANGE)
    }
}

/// Redis's human form of a `long double`: 17 digits after the point, then trailing
/// zeros and a bare point dropped (`3`, `10.5`, `0.3`); `-0` reads `0`.
func formatLongDouble(_ value: LongDouble) -> [UInt8] {
    // Most sums fit on the stack; the largest `long double` prints some 4,950 digits,
    // which are printed again into a buffer of their length.
    let onStack = 64
    let small = withUnsafeTemporaryAllocation(of: CChar.self, capacity: onStack) { out -> [UInt8]? in
        let length = printLongDouble(value, out)
        return length < onStack ? humanForm(UnsafeRawBufferPointer(start: out.baseAddress, count: length)) : nil
    }
    if let small { return small }
    var large = [CChar](repeating: 0, count: printLongDouble(value, UnsafeMutableBufferPointer(start: nil, count: 0)) + 1)
    return large.withUnsafeMutableBufferPointer { out in
        humanForm(UnsafeRawBufferPointer(start: out.baseAddress, count: printLongDouble(value, out)))
    }
}

/// `%.17Lf` (`%.17f` where the sum is a `Double`) into `out`; returns the length of
/// the whole text, which is at least `out.count` when it did not fit.
private func printLongDouble(_ value: LongDouble, _ out: UnsafeMutableBufferPointer<CChar>) -> Int {
    #if arch(x86_64) || arch(i386)
    let length = sluice_format_long_double(out.baseAddress, out.count, value)
    #else
    let length = sluice_format_double(out.baseAddress, out.count, value)
    #endif
    return Int(max(0, length))
}

/// The printed text without trailing zeros after the point, nor a bare point; `-0` is `0`.
private func humanForm(_ text: UnsafeRawBufferPointer) -> [UInt8] {
    var end = text.count
    if text.contains(UInt8(ascii: ".")) {
        while end > 0 && text[end - 1] == UInt8(ascii: "0") { end -= 1 }
        if end > 0 && text[end - 1] == UInt8(ascii: ".") { end -= 1 }
    }
    if end == 2 && text[0] == UInt8(ascii: "-") && text[1] == UInt8(ascii: "0") { return [UInt8(ascii: "0")] }
    return Array(text[0..<end])
}
