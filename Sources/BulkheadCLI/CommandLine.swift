import BulkheadCore
#if canImport(Glibc)
import Glibc
#endif

/// Where a command writes: standard output and standard error, swappable in tests.
public struct Console: Sendable {
    public var out: @Sendable (String) -> Void
    public var err: @Sendable (String) -> Void

    public init(out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void) {
        self.out = out
        self.err = err
    }

    /// The process's own standard output and error.
    public static let standard = Console(
        out: { writeAll(STDOUT_FILENO, $0) },
        err: { writeAll(STDERR_FILENO, $0) }
    )

    /// Writes the whole text to a file descriptor, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }
}

/// Exit statuses shared by the commands.
public enum ExitCode {
    public static let success: Int32 = 0
    public static let failure: Int32 = 1
}

/// The `bulkhead` command line: finds the subcommand and runs it.
public enum BulkheadCommandLine {
    public static let version = "0.1.0"

    static var commands: [any Command.Type] { [CheckCommand.self, RenderCommand.self, PlanCommand.self, ApplyCommand.self, DriftCommand.self, RunCommand.self, StatusCommand.self] }

    /// Runs `bulkhead ARGS...` and returns the exit status.
    public static func run(_ arguments: [String], console: Console = .standard) -> Int32 {
        guard let first = arguments.first else {
            console.err(overview)
            return ExitCode.failure
        }
        switch first {
        case "-h", "--help", "help":
            if first == "help", arguments.count > 1 {
                return run([arguments[1], "--help"], console: console)
            }
            console.out(overview)
            return ExitCode.success
        case "--version", "version":
            console.out("bulkhead \(version)\n")
            return ExitCode.success
        default:
            guard let command = commands.first(where: { $0.name == first }) else {
                console.err("bulkhead: unknown command '\(first)'" + Suggestion.didYouMean(first, among: commands.map { $0.name })
                            + "\nRun 'bulkhead --help' for the list of commands.\n")
                return ExitCode.failure
            }
            let rest = Array(arguments.dropFirst())
            if rest.contains("--help") || rest.contains("-h") {
                console.out(command.help)
                return ExitCode.success
            }
            do {
                let parsed = try ArgumentScanner.parse(rest, specs: command.options, command: command.name)
                return command.run(parsed, console: console)
            } catch let error as UsageError {
                console.err("bulkhead \(command.name): \(error)\n")
                return ExitCode.failure
            } catch {
                console.err("bulkhead \(command.name): \(error)\n")
                return ExitCode.failure
            }
        }
    }

    static var overview: String {
        let list = commands.map { "  \($0.name)" + String(repeating: " ", count: max(1, 10 - $0.name.count)) + $0.summary }
            .joined(separator: "\n")
        return """
        bulkhead: microsegmentation for Linux hosts with nftables.

        You declare zones (sets of CIDRs) and flows (zone A may reach zone B on tcp/5432) in YAML
        under a segments directory; bulkhead compiles them into one default-deny nftables table.

        Usage: bulkhead COMMAND [OPTIONS]

        Commands:
        \(list)

        Run 'bulkhead COMMAND --help' for a command's options and examples.
        Settings come from /etc/bulkhead/bulkhead.yaml (or -c FILE); flags override them.

        """
    }
}

/// A subcommand: its name, help and behaviour.
protocol Command {
    static var name: String { get }
    static var summary: String { get }
    static var help: String { get }
    static var options: [OptionSpec] { get }
    static func run(_ arguments: ParsedArguments, console: Console) -> Int32
}
