import BulkheadYAML

/// Where something was written: a file and a position in it.
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The path as the user gave it (segments directory joined with the file's relative path).
    public var path: String
    /// The path relative to the segments directory, the form that goes into kernel comments.
    public var relativePath: String
    public var mark: SourceMark

    public init(path: String, relativePath: String, mark: SourceMark) {
        self.path = path
        self.relativePath = relativePath
        self.mark = mark
    }

    public static func < (a: SourceLocation, b: SourceLocation) -> Bool {
        (a.path, a.mark) < (b.path, b.mark)
    }

    /// `path:line:column`, the compiler-style prefix; just `path` for problems with a whole file.
    public var description: String { mark.line == 0 ? path : "\(path):\(mark.line):\(mark.column)" }

    /// A location naming a whole file or directory rather than a position in it.
    public static func whole(_ path: String, relativePath: String = "") -> SourceLocation {
        SourceLocation(path: path, relativePath: relativePath, mark: SourceMark(line: 0, column: 0))
    }
    /// `relative/path:line`, short enough for an nftables comment.
    public var shortDescription: String { "\(relativePath):\(mark.line)" }
}

/// One problem found in the model or the settings.
public struct Diagnostic: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable {
        case error, warning
    }

    public var severity: Severity
    public var location: SourceLocation
    public var message: String

    public init(_ severity: Severity, at location: SourceLocation, _ message: String) {
        self.severity = severity
        self.location = location
        self.message = message
    }

    public static func < (a: Diagnostic, b: Diagnostic) -> Bool {
        (a.location, a.message) < (b.location, b.message)
    }

    /// `path:line:column: error: message`
    public var description: String { "\(location): \(severity.rawValue): \(message)" }
}

extension Array where Element == Diagnostic {
    /// True when at least one diagnostic is an error.
    public var hasErrors: Bool { contains { $0.severity == .error } }
}

/// Suggests the closest known word for a misspelling ("did you mean").
public enum Suggestion {
    /// The candidate within a small edit distance of `word`, if any, as ` (did you mean 'x'?)`.
    public static func didYouMean<S: Sequence>(_ word: String, among candidates: S) -> String where S.Element == String {
        let limit = max(1, min(3, word.count / 3))
        var best: (distance: Int, name: String)?
        for candidate in candidates {
            let distance = editDistance(word.lowercased(), candidate.lowercased())
            guard distance <= limit else { continue }
            if let current = best, (current.distance, current.name) <= (distance, candidate) { continue }
            best = (distance, candidate)
        }
        return best.map { " (did you mean '\($0.name)'?)" } ?? ""
    }

    /// Edit distance over characters, counting a swap of two adjacent characters (the commonest typo,
    /// `wbe` for `web`) as one edit like an insertion, deletion or substitution (optimal string alignment).
    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var beforePrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = Swift.min(current[j], beforePrevious[j - 2] + 1)
                }
            }
            (beforePrevious, previous, current) = (previous, current, beforePrevious)
        }
        return previous[b.count]
    }
}
