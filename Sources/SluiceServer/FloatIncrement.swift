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
    var buffer = [CChar](repeating: 0, count: 5 * 1024 + 32)
    let length = buffer.withUnsafeMutableBufferPointer { out in
        withVaList([value]) { arguments in
            #if arch(x86_64) || arch(i386)
            vsnprintf(out.baseAddress!, out.count, "%.17Lf", arguments)
            #else
            vsnprintf(out.baseAddress!, out.count, "%.17f", arguments)
            #endif
        }
    }
    var bytes = buffer[0..<Int(max(0, min(length, Int32(buffer.count - 1))))].map { UInt8(bitPattern: $0) }
    if bytes.contains(UInt8(ascii: ".")) {
        while bytes.last == UInt8(ascii: "0") { bytes.removeLast() }
        if bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
    }
    if bytes == Array("-0".utf8) { bytes = [UInt8(ascii: "0")] }
    return bytes
}
