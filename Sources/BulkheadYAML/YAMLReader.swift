import CYaml

/// Reads one YAML document into `YAMLNode`s with libyaml's event parser.
///
/// Deliberately narrower than YAML: anchors, aliases (no alias bombs), explicit tags and
/// multi-document streams are refused, nesting is bounded, and only UTF-8 is accepted.
public enum YAMLReader {
    /// Deepest nesting of lists and mappings accepted; the segment model needs four.
    public static let maximumDepth = 64

    /// Parses `bytes`; returns nil for an empty document (only comments or nothing).
    public static func read(_ bytes: [UInt8]) -> Result<YAMLNode?, YAMLReadError> {
        let parser = EventParser(bytes)
        return parser.parseDocument()
    }
}

/// One libyaml parser and the event it currently holds; frees both.
private final class EventParser {
    private var parser = yaml_parser_t()
    private let input: UnsafeMutableBufferPointer<UInt8>
    private let bytes: [UInt8]

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        // libyaml keeps a pointer to the input for the parser's whole life.
        input = .allocate(capacity: max(bytes.count, 1))
        _ = input.initialize(from: bytes)
        yaml_parser_initialize(&parser)
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(&parser, input.baseAddress, bytes.count)
    }

    deinit {
        yaml_parser_delete(&parser)
        input.deallocate()
    }

    /// A frame of a collection being built.
    private enum Frame {
        case sequence(mark: SourceMark, items: [YAMLNode])
        case mapping(mark: SourceMark, pairs: [YAMLPair], pendingKey: YAMLNode?)
    }

    func parseDocument() -> Result<YAMLNode?, YAMLReadError> {
        var stack: [Frame] = []
        var root: YAMLNode?
        var documents = 0

        while true {
            var event = yaml_event_t()
            guard yaml_parser_parse(&parser, &event) == 1 else {
                return .failure(parserError())
            }
            defer { yaml_event_delete(&event) }
            let mark = SourceMark(line: Int(event.start_mark.line) + 1, column: Int(event.start_mark.column) + 1)

            var completed: YAMLNode?
            switch event.type {
            case YAML_STREAM_START_EVENT, YAML_DOCUMENT_END_EVENT, YAML_NO_EVENT:
                continue
            case YAML_STREAM_END_EVENT:
                return .success(root)
            case YAML_DOCUMENT_START_EVENT:
                documents += 1
                if documents > 1 {
                    return .failure(YAMLReadError(
                        message: "only one YAML document per file is allowed (found a second '---')", mark: mark))
                }
                continue
            case YAML_ALIAS_EVENT:
                return .failure(YAMLReadError(message: "YAML aliases (*name) are not allowed", mark: mark))
            case YAML_SCALAR_EVENT:
                let scalar = event.data.scalar
                if let problem = refusal(anchor: scalar.anchor, tag: scalar.tag, mark: mark) { return .failure(problem) }
                let text = string(scalar.value, count: scalar.length)
                completed = YAMLNode(.scalar(text, isPlain: scalar.style == YAML_PLAIN_SCALAR_STYLE), at: mark)
            case YAML_SEQUENCE_START_EVENT:
                let start = event.data.sequence_start
                if let problem = refusal(anchor: start.anchor, tag: start.tag, mark: mark) { return .failure(problem) }
                if stack.count >= YAMLReader.maximumDepth { return .failure(tooDeep(mark)) }
                stack.append(.sequence(mark: mark, items: []))
                continue
            case YAML_MAPPING_START_EVENT:
                let start = event.data.mapping_start
                if let problem = refusal(anchor: start.anchor, tag: start.tag, mark: mark) { return .failure(problem) }
                if stack.count >= YAMLReader.maximumDepth { return .failure(tooDeep(mark)) }
                stack.append(.mapping(mark: mark, pairs: [], pendingKey: nil))
                continue
            case YAML_SEQUENCE_END_EVENT:
                guard case .sequence(let start, let items)? = stack.popLast() else {
                    return .failure(YAMLReadError(message: "unbalanced list", mark: mark))
                }
                completed = YAMLNode(.sequence(items), at: start)
            case YAML_MAPPING_END_EVENT:
                guard case .mapping(let start, let pairs, _)? = stack.popLast() else {
                    return .failure(YAMLReadError(message: "unbalanced mapping", mark: mark))
                }
                completed = YAMLNode(.mapping(pairs), at: start)
            default:
                continue
            }

            guard let node = completed else { continue }
            switch stack.popLast() {
            case nil:
                root = node
            case .sequence(let start, var items)?:
                items.append(node)
                stack.append(.sequence(mark: start, items: items))
            case .mapping(let start, var pairs, let pendingKey)?:
                if let key = pendingKey {
                    pairs.append(YAMLPair(key: key, value: node))
                    stack.append(.mapping(mark: start, pairs: pairs, pendingKey: nil))
                } else {
                    stack.append(.mapping(mark: start, pairs: pairs, pendingKey: node))
                }
            }
        }
    }

    private func refusal(anchor: UnsafeMutablePointer<yaml_char_t>?, tag: UnsafeMutablePointer<yaml_char_t>?,
                         mark: SourceMark) -> YAMLReadError? {
        if let anchor {
            let name = String(cString: anchor)
            return YAMLReadError(message: "YAML anchors (&\(name)) are not allowed", mark: mark)
        }
        if let tag {
            let name = String(cString: tag)
            return YAMLReadError(message: "YAML tags (\(name)) are not allowed", mark: mark)
        }
        return nil
    }

    private func tooDeep(_ mark: SourceMark) -> YAMLReadError {
        YAMLReadError(message: "nesting deeper than \(YAMLReader.maximumDepth) levels", mark: mark)
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?, count: Int) -> String {
        guard let pointer else { return "" }
        // libyaml has already rejected invalid UTF-8, so decoding cannot lose bytes here.
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    /// Turns libyaml's error state into a message and position.
    private func parserError() -> YAMLReadError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unknown YAML error"
        if parser.error == YAML_READER_ERROR {
            // Reader errors (bad UTF-8, control characters) carry a byte offset, not a mark.
            let mark = position(ofByte: parser.problem_offset)
            if problem.contains("UTF-8") || problem.contains("octet") {
                return YAMLReadError(message: "invalid UTF-8 (\(problem))", mark: mark)
            }
            return YAMLReadError(message: problem, mark: mark)
        }
        var message = problem
        if let context = parser.context.map({ String(cString: $0) }) {
            message = "\(problem) \(context)"
        }
        let mark = parser.problem_mark
        return YAMLReadError(message: message, mark: SourceMark(line: Int(mark.line) + 1, column: Int(mark.column) + 1))
    }

    /// Line and column (in characters, counting UTF-8 lead bytes) of a byte offset.
    private func position(ofByte offset: Int) -> SourceMark {
        var line = 1
        var column = 1
        for byte in bytes.prefix(min(offset, bytes.count)) {
            if byte == UInt8(ascii: "\n") {
                line += 1
                column = 1
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
        return SourceMark(line: line, column: column)
    }
}
