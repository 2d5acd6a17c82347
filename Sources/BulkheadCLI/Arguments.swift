import BulkheadCore

/// A usage mistake on the command line, in words.
public struct UsageError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// An option a command accepts: its spellings, whether it takes a value, and the help line.
struct OptionSpec {
    var long: String
    var short: Character?
    var valueName: String?
    var help: String
}

/// The options and positional words parsed from a command line.
struct ParsedArguments {
    var values: [String: String] = [:]
    var flags: Set<String> = []
    var positional: [String] = []

    func value(_ long: String) -> String? { values[long] }
    func has(_ long: String) -> Bool { flags.contains(long) }
}

/// Parses `--long VALUE`, `--long=VALUE`, `-s VALUE`, `-sVALUE` and flags against a list of specs.
enum ArgumentScanner {
    static func parse(_ arguments: [String], specs: [OptionSpec], command: String) throws -> ParsedArguments {
        var parsed = ParsedArguments()
        var index = 0
        func spec(long: String) -> OptionSpec? { specs.first { $0.long == long } }
        func unknown(_ word: String) -> UsageError {
            let names = specs.map { "--\($0.long)" }
            return UsageError("unknown option '\(word)' for '\(command)'" + Suggestion.didYouMean(word, among: names)
                              + "; see 'bulkhead \(command) --help'")
        }
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if word == "--" {
                parsed.positional += arguments[index...]
                break
            }
            var option: OptionSpec?
            var inlineValue: String?
            if word.hasPrefix("--") {
                let body = word.dropFirst(2)
                let name = body.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                if let equals = body.firstIndex(of: "=") { inlineValue = String(body[body.index(after: equals)...]) }
                guard let found = spec(long: name) else { throw unknown(word) }
                option = found
            } else if word.hasPrefix("-"), word.count >= 2 {
                let letter = word[word.index(after: word.startIndex)]
                guard let found = specs.first(where: { $0.short == letter }) else { throw unknown(word) }
                option = found
                if word.count > 2 { inlineValue = String(word.dropFirst(2)) }
            } else {
                parsed.positional.append(word)
                continue
            }
            guard let option else { continue }
            if let valueName = option.valueName {
                if let inlineValue {
                    parsed.values[option.long] = inlineValue
                } else {
                    guard index < arguments.count else {
                        throw UsageError("option '--\(option.long)' needs a value (\(valueName)); see 'bulkhead \(command) --help'")
                    }
                    parsed.values[option.long] = arguments[index]
                    index += 1
                }
            } else {
                if inlineValue != nil { throw UsageError("option '--\(option.long)' takes no value") }
                parsed.flags.insert(option.long)
            }
        }
        return parsed
    }

    /// The options block of a help text.
    static func helpLines(_ specs: [OptionSpec]) -> String {
        let rendered = specs.map { spec -> (String, String) in
            var left = spec.short.map { "-\($0), " } ?? "    "
            left += "--\(spec.long)"
            if let valueName = spec.valueName { left += " \(valueName)" }
            return (left, spec.help)
        }
        let width = (rendered.map(\.0.count).max() ?? 0) + 2
        return rendered.map { left, help in
            "  " + left + String(repeating: " ", count: width - left.count) + help
        }.joined(separator: "\n")
    }
}
