/// A position in a source file, 1-based like compiler diagnostics.
public struct SourceMark: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public static func < (a: SourceMark, b: SourceMark) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    public var description: String { "\(line):\(column)" }
}

/// One YAML node with the position where it starts. Only the three YAML kinds exist here:
/// tags, anchors and aliases are refused by the reader, so every scalar is plain text.
public struct YAMLNode: Sendable, Hashable {
    /// The shape of a node.
    public enum Kind: Sendable, Hashable {
        /// A scalar's text; `isPlain` is false for quoted and block scalars.
        case scalar(String, isPlain: Bool)
        case sequence([YAMLNode])
        /// Keys in document order; duplicates are kept so the loader can report them.
        case mapping([YAMLPair])
    }

    public var kind: Kind
    public var mark: SourceMark

    public init(_ kind: Kind, at mark: SourceMark) {
        self.kind = kind
        self.mark = mark
    }

    /// True for `~`, `null`, an empty plain scalar: YAML's ways of writing "nothing".
    public var isNull: Bool {
        if case .scalar(let text, true) = kind {
            return text.isEmpty || text == "~" || text == "null" || text == "Null" || text == "NULL"
        }
        return false
    }

    /// The text of a scalar node, nil for collections.
    public var scalarText: String? {
        if case .scalar(let text, _) = kind { return text }
        return nil
    }

    /// What the node is, in words for error messages.
    public var kindName: String {
        switch kind {
        case .scalar: return isNull ? "an empty value" : "a scalar"
        case .sequence: return "a list"
        case .mapping: return "a mapping"
        }
    }
}

/// A key and its value in a mapping.
public struct YAMLPair: Sendable, Hashable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A document that could not be read, with the position libyaml (or our limits) blamed.
public struct YAMLReadError: Error, Sendable, Hashable {
    public var message: String
    public var mark: SourceMark

    public init(message: String, mark: SourceMark) {
        self.message = message
        self.mark = mark
    }
}
