import Testing
import SluiceCore

@Suite("Glob patterns")
struct GlobTests {
    @Test("glob patterns match as in Redis", arguments: [
        ("*", "anything", true),
        ("h?llo", "hello", true),
        ("h?llo", "hllo", false),
        ("h*llo", "heeeello", true),
        ("h[ae]llo", "hallo", true),
        ("h[ae]llo", "hillo", false),
        ("h[^e]llo", "hallo", true),
        ("h[^e]llo", "hello", false),
        ("h[a-b]llo", "hbllo", true),
        ("h[a-b]llo", "hcllo", false),
        ("h\\*llo", "h*llo", true),
        ("h\\*llo", "hello", false),
        ("user:*:limit", "user:42:limit", true),
        ("user:*:limit", "user:42:limits", false),
        ("*a*b*c*", "xxaxxbxxcxx", true),
        ("", "", true),
        ("", "a", false),
    ])
    func matches(pattern: String, subject: String, expected: Bool) {
        #expect(GlobPattern(Array(pattern.utf8)).matches(Array(subject.utf8)) == expected)
    }

    @Test("case-insensitive patterns fold ASCII letters")
    func caseInsensitive() {
        #expect(GlobPattern(Array("PORT".utf8), caseInsensitive: true).matches(Array("port".utf8)))
        #expect(GlobPattern(Array("PORT".utf8)).matches(Array("port".utf8)) == false)
    }

    @Test("a pathological pattern finishes quickly")
    func pathological() {
        let pattern = Array(String(repeating: "a*", count: 30).utf8) + [UInt8(ascii: "b")]
        let subject = Array(String(repeating: "a", count: 5_000).utf8)
        #expect(GlobPattern(pattern).matches(subject) == false)
    }
}
