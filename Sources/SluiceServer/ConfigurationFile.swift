#if canImport(Glibc)
import Glibc
#endif

/// The TOML subset a Sluice configuration file uses: one `key = value` per line,
/// `#` comments, blank lines; values are basic strings (`"..."` with `\" \\ \n \t \r`
/// escapes), literal strings (`'...'`), integers (`_` separators allowed) and
/// booleans. Tables, arrays, floats, dates and multi-line strings are refused with the
/// line number, as are duplicate keys. Booleans become `yes`/`no`, so every value
/// reaches the option table as the same text a flag would give.
enum ConfigurationFile {
    struct Entry: Equatable {
        let key: String
        let value: String
        let line: Int
    }

    static func parse(_ text: String, path: String) throws(ConfigurationError) -> [Entry] {
        var entries: [Entry] = []
        var seen = Set<String>()
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var line = Substring(rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine)
            line = line.drop { $0 == " " || $0 == "\t" }
            if line.isEmpty || line.first == "#" { continue }
            func fail(_ reason: String) -> ConfigurationError {
                ConfigurationError("\(path) line \(number): \(reason)")
            }
            if line.first == "[" { throw fail("tables are not supported; write key = value lines only") }
            guard let equals = line.firstIndex(of: "=") else { throw fail("expected key = value") }
            var key = String(line[..<equals]).trimmingWhitespace
            if key.count >= 2, key.first == "\"", key.last == "\"" { key = String(key.dropFirst().dropLast()) }
            guard !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw fail("invalid key '\(key)'")
            }
            guard seen.insert(key).inserted else { throw fail("duplicate key '\(key)'") }
            let value: String
            do {
                value = try parseValue(line[line.index(after: equals)...])
            } catch {
                throw fail("\(key): \(error.reason)")
            }
            entries.append(Entry(key: key, value: value, line: number))
        }
        return entries
    }

    /// One value and an optional trailing comment.
    private static func parseValue(_ text: Substring) throws(ConfigurationValueError) -> String {
        var rest = text.drop { $0 == " " || $0 == "\t" }
        var value = ""
        switch rest.first {
        case "\"":
            rest = rest.dropFirst()
            var closed = false
            while let character = rest.popFirst() {
                if character == "\"" { closed = true; break }
                if character == "\\" {
                    switch rest.popFirst() {
                    case "\"": value.append("\"")
                    case "\\": value.append("\\")
                    case "n": value.append("\n")
                    case "t": value.append("\t")
                    case "r": value.append("\r")
                    default: throw ConfigurationValueError("unsupported escape in string")
                    }
                } else {
                    value.append(character)
                }
            }
            guard closed else { throw ConfigurationValueError("unterminated string") }
        case "'":
            rest = rest.dropFirst()
            guard let end = rest.firstIndex(of: "'") else { throw ConfigurationValueError("unterminated string") }
            value = String(rest[..<end])
            rest = rest[rest.index(after: end)...]
        default:
            let word = rest.prefix { $0 != " " && $0 != "\t" && $0 != "#" }
            rest = rest.dropFirst(word.count)
            switch word {
            case "true": value = "yes"
            case "false": value = "no"
            default:
                let digits = word.filter { $0 != "_" }
                guard !digits.isEmpty, Int(digits) != nil, !word.hasPrefix("_"), !word.hasSuffix("_") else {
                    throw ConfigurationValueError(
                        "unsupported value '\(word)' (this TOML subset takes strings, integers and booleans)")
                }
                value = String(Int(digits)!)
            }
        }
        let trailing = rest.drop { $0 == " " || $0 == "\t" }
        guard trailing.isEmpty || trailing.first == "#" else {
            throw ConfigurationValueError("unexpected text after the value")
        }
        return value
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

/// The whole of a text file, or an error naming it and why it could not be read.
public func readTextFile(_ path: String) throws(ConfigurationError) -> String {
    do {
        return String(decoding: try readSmallFile(path), as: UTF8.self)
    } catch {
        throw ConfigurationError("cannot read configuration file \(path): \(error.reason)")
    }
}

/// The bytes of a file of at most 16 MiB (configuration, certificates), or why it could not be read.
func readSmallFile(_ path: String) throws(ConfigurationValueError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else { throw ConfigurationValueError(String(cString: strerror(errno))) }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count == 0 { break }
        guard count > 0 else { throw ConfigurationValueError(String(cString: strerror(errno))) }
        guard bytes.count < 16 * 1024 * 1024 else { throw ConfigurationValueError("file larger than 16 MiB") }
        bytes += chunk[0..<count]
    }
    return bytes
}
