#if canImport(Glibc)
import Glibc
#endif

/// Finds and reads the model files of a segments directory.
public enum SegmentDirectory {
    /// Deepest directory nesting followed, which also stops symlink loops.
    static let maximumDepth = 16

    /// Every `*.yaml`/`*.yml` file below `directory` in sorted path order; names starting with `.` are skipped
    /// (editor swap files, Kubernetes ConfigMap internals).
    public static func read(_ directory: String) -> (sources: [SegmentSource], diagnostics: [Diagnostic]) {
        var sources: [SegmentSource] = []
        var diagnostics: [Diagnostic] = []
        var info = stat()
        guard stat(directory, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            diagnostics.append(Diagnostic(.error, at: .whole(directory), "cannot read the segments directory: \(reason)"))
            return (sources, diagnostics)
        }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            diagnostics.append(Diagnostic(.error, at: .whole(directory), "the segments path is not a directory"))
            return (sources, diagnostics)
        }
        walk(directory: directory, relative: "", depth: 0, sources: &sources, diagnostics: &diagnostics)
        if sources.isEmpty, !diagnostics.hasErrors {
            diagnostics.append(Diagnostic(.error, at: .whole(directory),
                                          "no model files (*.yaml, *.yml) in the segments directory"))
        }
        return (sources, diagnostics)
    }

    private static func walk(directory: String, relative: String, depth: Int,
                             sources: inout [SegmentSource], diagnostics: inout [Diagnostic]) {
        let absolute = relative.isEmpty ? directory : join(directory, relative)
        guard depth <= maximumDepth else {
            diagnostics.append(Diagnostic(.error, at: .whole(absolute), "directories nested deeper than \(maximumDepth) levels (a symlink loop?)"))
            return
        }
        guard let names = entries(of: absolute) else {
            diagnostics.append(Diagnostic(.error, at: .whole(absolute), "cannot list directory: \(String(cString: strerror(errno)))"))
            return
        }
        for name in names.sorted() where !name.hasPrefix(".") {
            let childRelative = relative.isEmpty ? name : "\(relative)/\(name)"
            let childPath = join(directory, childRelative)
            var info = stat()
            guard stat(childPath, &info) == 0 else {
                diagnostics.append(Diagnostic(.error, at: .whole(childPath, relativePath: childRelative),
                                              "cannot read: \(String(cString: strerror(errno)))"))
                continue
            }
            if info.st_mode & S_IFMT == S_IFDIR {
                walk(directory: directory, relative: childRelative, depth: depth + 1, sources: &sources, diagnostics: &diagnostics)
            } else if name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
                switch readFile(childPath, limit: SegmentLoader.maximumFileSize) {
                case .success(let bytes):
                    sources.append(SegmentSource(path: childPath, relativePath: childRelative, bytes: bytes))
                case .failure(let message):
                    diagnostics.append(Diagnostic(.error, at: .whole(childPath, relativePath: childRelative), message.description))
                }
            }
        }
    }

    private static func join(_ directory: String, _ relative: String) -> String {
        directory.hasSuffix("/") ? directory + relative : "\(directory)/\(relative)"
    }

    /// The names in a directory (without `.` and `..`), nil when it cannot be listed.
    public static func entries(of path: String) -> [String]? {
        guard let handle = opendir(path) else { return nil }
        defer { closedir(handle) }
        var names: [String] = []
        while let entry = readdir(handle) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Reads a whole file, refusing (without reading it all) one larger than `limit` bytes.
    public static func readFile(_ path: String, limit: Int) -> Result<[UInt8], FileReadError> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(FileReadError("cannot open: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(FileReadError("cannot read: \(String(cString: strerror(errno)))"))
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
            if bytes.count > limit {
                return .failure(FileReadError("file is larger than the \(limit)-byte limit; split it"))
            }
        }
        return .success(bytes)
    }
}

/// A file that could not be read, in words.
public struct FileReadError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
