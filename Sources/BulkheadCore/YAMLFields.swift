import BulkheadYAML

/// Collects diagnostics for one file while its YAML is being interpreted.
final class DiagnosticSink {
    private(set) var diagnostics: [Diagnostic] = []

    func error(_ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(.error, at: location, message))
    }

    func warning(_ message: String, at location: SourceLocation) {
        diagnostics.append(Diagnostic(.warning, at: location, message))
    }

    func append(contentsOf other: [Diagnostic]) {
        diagnostics.append(contentsOf: other)
    }
}

/// Helpers that turn YAML nodes into typed values, reporting problems at the node's position.
struct FieldReader {
    let path: String
    let relativePath: String
    let sink: DiagnosticSink

    func location(_ node: YAMLNode) -> SourceLocation {
        SourceLocation(path: path, relativePath: relativePath, mark: node.mark)
    }

    func error(_ message: String, at node: YAMLNode) { sink.error(message, at: location(node)) }
    func warning(_ message: String, at node: YAMLNode) { sink.warning(message, at: location(node)) }

    /// The fields of a mapping by key. Unknown and duplicate keys are reported and left out.
    func fields(of node: YAMLNode, what: String, known: [String]) -> [String: YAMLPair]? {
        guard case .mapping(let pairs) = node.kind else {
            error("\(what) must be a mapping, not \(node.kindName)", at: node)
            return nil
        }
        var result: [String: YAMLPair] = [:]
        for pair in pairs {
            guard let key = plainKey(pair.key) else { continue }
            if let first = result[key] {
                error("duplicate key '\(key)' (first defined at line \(first.key.mark.line))", at: pair.key)
                continue
            }
            guard known.contains(key) else {
                error("unknown key '\(key)' in \(what)" + Suggestion.didYouMean(key, among: known)
                      + "; known keys: \(known.joined(separator: ", "))", at: pair.key)
                continue
            }
            result[key] = pair
        }
        return result
    }

    /// The entries of a mapping whose keys are names (zones, services), duplicates reported and dropped.
    func namedEntries(of node: YAMLNode, what: String) -> [YAMLPair] {
        if node.isNull { return [] }
        guard case .mapping(let pairs) = node.kind else {
            error("\(what) must be a mapping of names, not \(node.kindName)", at: node)
            return []
        }
        var seen: [String: YAMLNode] = [:]
        var result: [YAMLPair] = []
        for pair in pairs {
            guard let key = plainKey(pair.key) else { continue }
            if let first = seen[key] {
                error("duplicate key '\(key)' (first defined at line \(first.mark.line))", at: pair.key)
                continue
            }
            seen[key] = pair.key
            result.append(pair)
        }
        return result
    }

    /// A key that is a scalar; complex keys are reported.
    func plainKey(_ node: YAMLNode) -> String? {
        guard let text = node.scalarText else {
            error("keys must be plain names, not \(node.kindName)", at: node)
            return nil
        }
        return text
    }

    /// A non-empty scalar string.
    func string(_ node: YAMLNode, what: String) -> String? {
        guard let text = node.scalarText, !node.isNull else {
            error("\(what) must be a non-empty string, not \(node.kindName)", at: node)
            return nil
        }
        if text.trimmingSpaces.isEmpty {
            error("\(what) must not be blank", at: node)
            return nil
        }
        return text
    }

    /// The items of a list; a single scalar is accepted as a list of one when `allowScalar` is set.
    func list(_ node: YAMLNode, what: String, allowScalar: Bool = true) -> [YAMLNode]? {
        switch node.kind {
        case .sequence(let items):
            return items
        case .scalar where allowScalar && !node.isNull:
            return [node]
        default:
            error("\(what) must be a list, not \(node.kindName)", at: node)
            return nil
        }
    }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    var trimmingSpaces: Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return self[start...end]
    }
}
