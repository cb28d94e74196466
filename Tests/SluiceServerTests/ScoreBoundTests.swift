#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Testing
@testable import SluiceServer

@Suite("Score bounds")
struct ScoreBoundTests {
    /// What `strtod` alone reads, as Redis parses a range: nil when not all of it is a number.
    private static func byStrtod(_ text: [UInt8]) -> (Double, Bool)? {
        let exclusive = text.first == UInt8(ascii: "(")
        let number = exclusive ? Array(text.dropFirst()) : text
        guard let (value, _) = parseCString(number, { strtod($0, $1) }), !value.isNaN else { return nil }
        return (value, exclusive)
    }

    @Test("integers and infinities, read without strtod, give what strtod gives, and other forms still parse")
    func matchesStrtod() {
        let texts = ["5", "-5", "0", "-0", "(5", "(-7", "007", "+5", "9007199254740991", "9007199254740993",
                     "-9007199254740993", "9223372036854775807", "99999999999999999999", "-inf", "+inf", "inf",
                     "(-inf", "(+inf", "-INF", "Infinity", "-infinity", "1e3", "0x10", "1.5", "5\u{0}x", "", "(",
                     " 5", "5 ", "abc", "nan", "--5", "-", "+"]
        for text in texts {
            let bytes = Array(text.utf8)
            let bound = bytes.withUnsafeBytes(SortedSetCommands.scoreBound)
            let expected = Self.byStrtod(bytes)
            #expect(bound?.value == expected?.0, "\(text.debugDescription)")
            #expect(bound?.exclusive == expected?.1, "\(text.debugDescription)")
            #expect(bound?.value.sign == expected?.0.sign, "\(text.debugDescription)")
        }
    }
}
