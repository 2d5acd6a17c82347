import BulkheadCore
import BulkheadDaemon

/// `bulkhead run`: the long-lived service.
enum RunCommand: Command {
    static let name = "run"
    static let summary = "run as a service: enforce the model, watch for drift, heal or report it"
    static let options = ModelOptions.specs + DataplaneOptions.specs + [
        OptionSpec(long: "drift", short: nil, valueName: "MODE", help: "heal (re-apply at once, default) or report (leave it)"),
        OptionSpec(long: "resync", short: nil, valueName: "DURATION", help: "full check interval, e.g. 60s (default), 5m"),
        OptionSpec(long: "status", short: nil, valueName: "FILE", help: "status file (default /run/bulkhead/status.json)"),
        OptionSpec(long: "metrics", short: nil, valueName: "FILE", help: "Prometheus textfile to keep current (default: none)"),
        OptionSpec(long: "help", short: "h", valueName: nil, help: "show this help"),
    ]
    static var help: String {
        """
        Usage: bulkhead run [-c FILE] [-s DIR] [--netns NAME] [--drift heal|report] [--resync 60s]

        Applies the model, then keeps the kernel's table equal to it. One event loop watches:
          - nf_tables change events: a change by another process triggers a drift check at
            once; the report names the process (pid and name) and every changed object;
          - the segments directory: edits are debounced, validated, and applied only when the
            model is valid (an invalid model never replaces a valid one; SIGHUP also reloads);
          - a periodic full check (--resync) that catches anything events missed.
        With drift heal (default) drift is re-applied at once; with report it is left and
        reported. With lock on (default) the table is owned by the daemon: other processes get
        'Operation not permitted'. SIGTERM stops within a second; the rules stay in the kernel
        (fail closed) and a restart re-adopts the table without a gap.

        Reports: the journal (structured fields BULKHEAD_EVENT, BULKHEAD_OBJECT,
        BULKHEAD_CULPRIT_PID, ...) or '<N>'-prefixed lines on stderr; the status file
        ('bulkhead status'); optionally a Prometheus textfile (--metrics).

        Options:
        \(ArgumentScanner.helpLines(options))

        Exit status: 0 after SIGTERM/SIGINT, 1 when it cannot start.

        Examples:
          systemctl start bulkhead            # see systemd/bulkhead.service
          bulkhead run -s segments/ --netns lab1 --status /tmp/lab1.json
        """ + "\n"
    }

    static func run(_ arguments: ParsedArguments, console: Console) -> Int32 {
        guard var settings = DataplaneOptions.settings(arguments, console: console) else { return ExitCode.failure }
        if let drift = arguments.value("drift") {
            guard let mode = DriftMode(rawValue: drift) else {
                console.err("bulkhead run: --drift takes heal or report, not '\(drift)'\n")
                return ExitCode.failure
            }
            settings.drift = mode
        }
        if let resync = arguments.value("resync") {
            guard let seconds = Settings.parseDuration(resync) else {
                console.err("bulkhead run: --resync takes a duration such as 60s or 5m, not '\(resync)'\n")
                return ExitCode.failure
            }
            settings.resync = seconds
        }
        if let status = arguments.value("status") { settings.status = status }
        if let metrics = arguments.value("metrics") { settings.metrics = metrics == "off" ? nil : metrics }
        let logger: DaemonLogger = JournalLogger.isAvailable ? JournalLogger() : StderrLogger()
        do {
            let daemon = try Daemon(settings: settings, networkNamespace: arguments.value("netns"), logger: logger)
            return try daemon.run()
        } catch {
            console.err("bulkhead run: \(error)\n")
            return ExitCode.failure
        }
    }
}
