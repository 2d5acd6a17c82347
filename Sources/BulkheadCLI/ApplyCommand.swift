import BulkheadCore

/// `bulkhead apply`: make the live table equal the model in one transaction.
enum ApplyCommand: Command {
    static let name = "apply"
    static let summary = "make the kernel's table equal the model, in one atomic transaction"
    static let options = ModelOptions.specs + DataplaneOptions.specs + [
        OptionSpec(long: "help", short: "h", valueName: nil, help: "show this help"),
    ]
    static var help: String {
        """
        Usage: bulkhead apply [-s DIR] [-c FILE] [--netns NAME] [--state DIR] [--lock on|off]

        Validates the model, compiles it, reads the live table inet bulkhead over netlink, and
        sends the difference as ONE netlink transaction: the kernel commits all of it or none
        of it. Only what differs is sent: set elements are added and removed one by one, a
        chain is rebuilt only when its rules differ. The transaction carries the generation it
        was planned against; if someone changed the ruleset in between, it is re-planned and
        retried (up to 5 times). An invalid model changes nothing.

        What was applied (model digest, ruleset, time) is recorded in the state directory for
        'bulkhead drift'. With lock on, the table is created persistent and owned by the
        applying process; a one-shot apply leaves it persistent and unowned when it exits,
        and re-claims an unowned table on the next apply. While the daemon owns the table,
        apply from another process fails with 'Operation not permitted'.

        Options:
        \(ArgumentScanner.helpLines(options))

        Exit status: 0 on success (also when there was nothing to do), 1 on error, with the
        previous ruleset untouched.

        Examples:
          bulkhead apply
          bulkhead apply -s segments/ --netns test1 --state /tmp/bulkhead-state
        """ + "\n"
    }

    static func run(_ arguments: ParsedArguments, console: Console) -> Int32 {
        guard let settings = DataplaneOptions.settings(arguments, console: console),
              let (table, digest) = DataplaneOptions.desiredTable(settings, console: console) else { return ExitCode.failure }
        let started = MonotonicClock.seconds()
        let outcome: ApplyOutcome, generation: UInt32
        do {
            let session = try DataplaneOptions.session(arguments)
            // If nothing was committed since our last apply, what we recorded is what the kernel holds.
            let state = StateDirectory(path: settings.state)
            var known: (table: Table, generation: UInt32)?
            if let summary = try? state.loadSummary(), (try? session.generation()) == summary.generation,
               let record = try? state.loadApplied(), record.generation == summary.generation {
                known = (record.table, record.generation)
            }
            outcome = try Reconciler(backend: session, lock: settings.lock).apply(table, known: known)
            generation = try outcome.commit?.generation ?? session.generation()
        } catch {
            console.err("bulkhead apply: \(error)\nThe previous ruleset is unchanged.\n")
            return ExitCode.failure
        }
        let milliseconds = (MonotonicClock.seconds() - started) * 1000
        do {
            try StateDirectory(path: settings.state).saveApplied(AppliedRecord(
                modelDigest: digest, source: settings.segments, appliedAt: StateDirectory.timestamp(),
                generation: generation, objectsChanged: outcome.changes.count, table: outcome.applied))
        } catch {
            console.err("bulkhead apply: the ruleset was applied, but recording it failed: \(error)\n")
            return ExitCode.failure
        }
        if let commit = outcome.commit {
            let retried = outcome.retries > 0 ? " after \(outcome.retries) retr\(outcome.retries == 1 ? "y" : "ies") (the ruleset changed meanwhile)" : ""
            console.out("applied \(digest.prefix(19)) to \(DataplaneOptions.target(arguments)): \(outcome.changes.count) object"
                        + "\(outcome.changes.count == 1 ? "" : "s") changed in one transaction (\(commit.messages) messages, "
                        + "\(commit.bytes) bytes\(outcome.plan.isFullReplace ? ", full replace" : "")) in "
                        + "\(String(format: milliseconds)) ms\(retried); generation \(commit.generation)\n")
        } else {
            console.out("\(DataplaneOptions.target(arguments)) already matches \(digest.prefix(19)); nothing to do\n")
        }
        return ExitCode.success
    }
}

extension String {
    /// A duration with one decimal.
    init(format value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(tenths % 10)"
    }
}
