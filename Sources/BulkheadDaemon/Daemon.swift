import BulkheadCore
import BulkheadNetlink
import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// `bulkhead run`: keeps the table equal to the model. One sd-event loop watches the nf_tables
/// change events, the segments directory, signals, a resync timer and the systemd watchdog.
public final class Daemon {
    private let settings: Settings
    private let networkNamespace: String?
    private let logger: DaemonLogger
    private let loop: EventLoop
    private let session: NftablesSession
    private let events: NftablesEventSocket
    private let reconciler: Reconciler
    private let stateDirectory: StateDirectory
    private var status: DaemonStatus
    /// The last table this daemon applied (or adopted from the state directory): what drift is measured against.
    private var applied: AppliedRecord?
    private var debounce: EventLoop.Timer?
    private var resync: EventLoop.Timer?
    /// Whether any change notification since the last NEWGEN touched our table.
    private var touchedSinceGeneration = false
    private var overrun = false
    private var eventSeenAt: Double?

    /// Quiet time after the last change in the segments directory before reloading.
    public static let debounceSeconds = 0.3

    public init(settings: Settings, networkNamespace: String?, logger: DaemonLogger) throws {
        self.settings = settings
        self.networkNamespace = networkNamespace
        self.logger = logger
        loop = try EventLoop()
        session = try NftablesSession(networkNamespace: networkNamespace)
        events = try NftablesEventSocket(networkNamespace: networkNamespace)
        reconciler = Reconciler(backend: session, lock: settings.lock)
        stateDirectory = StateDirectory(path: settings.state)
        status = DaemonStatus(pid: getpid(), startedAt: StateDirectory.timestamp(), networkNamespace: networkNamespace,
                              policy: settings.policy.rawValue, driftMode: settings.drift.rawValue, lock: settings.lock,
                              source: settings.segments)
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status. The rules stay in the kernel.
    public func run() throws -> Int32 {
        try loop.onSignal(SIGTERM) { [unowned self] in stop("SIGTERM") }
        try loop.onSignal(SIGINT) { [unowned self] in stop("SIGINT") }
        try loop.onSignal(SIGHUP) { [unowned self] in
            ServiceNotifier.notify("RELOADING=1")
            log(.info, "SIGHUP: reloading the model", ["BULKHEAD_EVENT": "reload"])
            reload(reason: "SIGHUP")
            ServiceNotifier.notify("READY=1")
        }
        try loop.onReadable(events.fileDescriptor) { [unowned self] in handleEvents() }
        debounce = try loop.timer { [unowned self] in reload(reason: "model changed on disk") }
        resync = try loop.timer { [unowned self] in
            checkDrift(culprit: nil, reason: "periodic check")
            // Rewritten every interval, so a stale file means a stuck daemon.
            publish()
            resync?.arm(after: settings.resync)
        }
        watchSegments()

        applied = try? stateDirectory.loadApplied()
        reload(reason: "start")
        resync?.arm(after: settings.resync)
        ServiceNotifier.notify("READY=1")
        log(.notice, "bulkhead running: \(settings.segments) on \(target), drift \(settings.drift.rawValue), resync every \(Int(settings.resync))s",
            ["BULKHEAD_EVENT": "start"])
        let code = try loop.run()
        log(.notice, "bulkhead stopped; the rules stay in the kernel", ["BULKHEAD_EVENT": "stop"])
        return code
    }

    private var target: String {
        "table inet bulkhead" + (networkNamespace.map { " in network namespace \($0)" } ?? "")
    }

    private func stop(_ signal: String) {
        ServiceNotifier.notify("STOPPING=1")
        log(.info, "\(signal): stopping", ["BULKHEAD_EVENT": "stop"])
        loop.exit(0)
    }

    private func log(_ priority: LogPriority, _ message: String, _ fields: [String: String] = [:]) {
        logger.log(priority, message, fields: fields)
    }

    // MARK: - Model

    /// Watches the segments directory and its subdirectories (editors write temp files and rename).
    private func watchSegments() {
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB)
        var watched: Set<String> = []
        func watch(_ directory: String) {
            guard watched.insert(directory).inserted, watched.count < 1000 else { return }
            do {
                try loop.onInotify(directory, mask: mask | UInt32(IN_ONLYDIR)) { [unowned self] eventMask, name in
                    if eventMask & UInt32(IN_ISDIR) != 0, eventMask & UInt32(IN_CREATE | IN_MOVED_TO) != 0, !name.hasPrefix(".") {
                        watch("\(directory)/\(name)")
                    }
                    debounce?.arm(after: Self.debounceSeconds)
                }
            } catch {
                log(.warning, "cannot watch \(directory) for changes (\(error)); SIGHUP or the \(Int(settings.resync))s resync still reload",
                    ["BULKHEAD_EVENT": "watch-error"])
            }
            for name in SegmentDirectory.entries(of: directory) ?? [] where !name.hasPrefix(".") {
                var info = stat()
                if lstat("\(directory)/\(name)", &info) == 0, info.st_mode & S_IFMT == S_IFDIR { watch("\(directory)/\(name)") }
            }
        }
        watch(settings.segments)
    }

    /// Loads the model; if valid and different from what is enforced, applies it. An invalid model
    /// never replaces a valid one: the last good one stays enforced and the errors are reported.
    private func reload(reason: String) {
        let result = SegmentLoader.load(directory: settings.segments)
        status.model.checkedAt = StateDirectory.timestamp()
        guard let model = result.model else {
            let errors = result.diagnostics.filter { $0.severity == .error }
            status.model.valid = false
            status.model.errors = errors.prefix(100).map(\.description)
            status.lastError = "model invalid (\(errors.count) error\(errors.count == 1 ? "" : "s")); still enforcing \(status.model.digest ?? "what the kernel holds")"
            for error in errors.prefix(20) {
                log(.error, "\(error)", ["BULKHEAD_EVENT": "model-invalid", "BULKHEAD_FILE": error.location.path,
                                         "BULKHEAD_LINE": "\(error.location.mark.line)"])
            }
            log(.error, "the model in \(settings.segments) is invalid (\(errors.count) errors); keeping the last good model",
                ["BULKHEAD_EVENT": "model-invalid"])
            ServiceNotifier.notify("STATUS=model invalid, enforcing the last good model")
            publish()
            return
        }
        let digest = ModelDigest.of(result.sources)
        status.model.valid = true
        status.model.errors = []
        let table = Compiler(model: model, settings: settings).compile(digest: digest)
        apply(table, digest: digest, reason: reason)
    }

    /// Applies a table (a model, or the last applied one to heal) and records it.
    @discardableResult
    private func apply(_ table: Table, digest: String, reason: String) -> Bool {
        let started = MonotonicClock.seconds()
        do {
            let outcome = try reconciler.apply(table, keepOwnership: true, known: applied.map { ($0.table, $0.generation) })
            let duration = (MonotonicClock.seconds() - started) * 1000
            let generation = try outcome.commit?.generation ?? session.generation()
            let record = AppliedRecord(modelDigest: digest, source: settings.segments, appliedAt: StateDirectory.timestamp(),
                                       generation: generation, objectsChanged: outcome.changes.count, table: outcome.applied)
            applied = record
            do {
                try stateDirectory.saveApplied(record)
            } catch {
                log(.warning, "applied, but cannot record it in \(settings.state): \(error)", ["BULKHEAD_EVENT": "state-error"])
            }
            status.model.digest = digest
            status.rulesetElements = outcome.applied.sets.reduce(0) { $0 + $1.elements.count }
            if outcome.commit != nil {
                status.applies += 1
                status.lastApply = DaemonStatus.ApplyState(at: record.appliedAt, durationMs: duration, objectsChanged: outcome.changes.count,
                                                           generation: generation, reason: reason)
                log(.notice, "applied \(digest.prefix(19)) (\(reason)): \(outcome.changes.count) objects changed in one transaction in \(Int(duration)) ms",
                    ["BULKHEAD_EVENT": "apply", "BULKHEAD_DIGEST": digest, "BULKHEAD_OBJECTS": "\(outcome.changes.count)"])
            }
            status.lastError = nil
            clearDrift()
            ServiceNotifier.notify("STATUS=enforcing \(digest.prefix(19))")
            publish()
            // An apply of a large table allocates its batch and dumps; give that memory back while idle.
            _ = malloc_trim(0)
            return true
        } catch {
            status.applyErrors += 1
            status.lastError = "apply failed (\(reason)): \(error)"
            log(.error, "apply failed (\(reason)): \(error); the previous ruleset is unchanged", ["BULKHEAD_EVENT": "apply-error"])
            publish()
            return false
        }
    }

    // MARK: - Drift

    private func handleEvents() {
        if eventSeenAt == nil { eventSeenAt = MonotonicClock.seconds() }
        for event in events.drain() {
            switch event {
            case .objectChanged(_, let table, _):
                if table == ObjectNames.table { touchedSinceGeneration = true }
            case .overrun:
                overrun = true
            case .newGeneration(_, let pid, let name):
                let touched = touchedSinceGeneration || overrun
                touchedSinceGeneration = false
                overrun = false
                // Our own commits are not drift.
                guard pid != UInt32(getpid()), touched else { continue }
                checkDrift(culprit: DaemonStatus.Culprit(pid: pid, name: name), reason: "change by \(name) (pid \(pid))")
            }
        }
        if overrun {
            overrun = false
            checkDrift(culprit: nil, reason: "event queue overrun (ENOBUFS)")
        }
        eventSeenAt = nil
    }

    /// Compares the live table with the last applied one; reports and (in heal mode) heals.
    private func checkDrift(culprit: DaemonStatus.Culprit?, reason: String) {
        guard let applied else { return }
        let detected = MonotonicClock.seconds()
        do {
            // Nothing committed since our apply: nothing can differ.
            if culprit == nil, !status.drift.present, try session.generation() == applied.generation { return }
            let live = try session.read(attempts: 10)
            let changes = RulesetDiff.changes(expected: applied.table, live: live.table)
            guard !changes.isEmpty else {
                if status.drift.present { clearDrift() }
                return
            }
            // From the kernel's notification reaching us to the drift being known (read and diffed).
            let latency = eventSeenAt.map { (MonotonicClock.seconds() - $0) * 1000 }
            status.drift = DaemonStatus.DriftState(present: true, detectedAt: StateDirectory.timestamp(), detectionLatencyMs: latency,
                                                   culprit: culprit, changes: changes, healed: false)
            let who = culprit.map { "\($0.name) (pid \($0.pid))" } ?? "unknown (\(reason))"
            log(.warning, "DRIFT in \(target): \(changes.count) change\(changes.count == 1 ? "" : "s") by \(who)",
                ["BULKHEAD_EVENT": "drift", "BULKHEAD_CULPRIT_PID": culprit.map { "\($0.pid)" } ?? "",
                 "BULKHEAD_CULPRIT_NAME": culprit?.name ?? "", "BULKHEAD_OBJECTS": "\(changes.count)"])
            for change in changes.prefix(50) {
                log(.warning, "drift: \(change.change.rawValue) \(change.object)" + (change.live.map { ": \($0)" } ?? ""),
                    ["BULKHEAD_EVENT": "drift-object", "BULKHEAD_OBJECT": change.object, "BULKHEAD_CHANGE": change.change.rawValue])
            }
            publish()
            guard settings.drift == .heal else { return }
            let report = status.drift
            if apply(applied.table, digest: applied.modelDigest, reason: "healing drift by \(who)") {
                status.heals += 1
                var healed = report
                healed.healed = true
                status.lastDrift = healed
                log(.notice, "healed drift by \(who) in \(Int((MonotonicClock.seconds() - detected) * 1000)) ms", ["BULKHEAD_EVENT": "heal"])
                publish()
            }
        } catch {
            status.lastError = "drift check failed: \(error)"
            log(.error, "drift check failed: \(error)", ["BULKHEAD_EVENT": "drift-error"])
            publish()
        }
    }

    private func clearDrift() {
        if status.drift.present { status.lastDrift = status.drift }
        status.drift = DaemonStatus.DriftState(present: false, detectedAt: nil, detectionLatencyMs: nil, culprit: nil, changes: [], healed: false)
    }

    // MARK: - Reports

    /// Rewrites the status file and the metrics file, each atomically.
    private func publish() {
        status.updatedAt = StateDirectory.timestamp()
        do {
            try Self.write(settings.status, try status.json(pretty: true))
            if let metrics = settings.metrics { try Self.write(metrics, Array(status.metrics.utf8)) }
        } catch {
            log(.warning, "cannot write status or metrics: \(error)", ["BULKHEAD_EVENT": "status-error"])
        }
    }

    private static func write(_ path: String, _ bytes: [UInt8]) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        try StateDirectory(path: directory.isEmpty ? "/" : directory).writeAtomically(name, bytes)
    }
}

/// glibc's malloc_trim(3): returns freed heap memory to the system (not exported by Swift's Glibc module).
@_silgen_name("malloc_trim")
private func malloc_trim(_ pad: Int) -> Int32
