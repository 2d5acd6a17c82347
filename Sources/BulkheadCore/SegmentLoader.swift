import BulkheadYAML

/// One model file's bytes and the names it goes by.
public struct SegmentSource: Sendable, Hashable {
    /// The path shown in diagnostics.
    public var path: String
    /// The path relative to the segments directory.
    public var relativePath: String
    public var bytes: [UInt8]

    public init(path: String, relativePath: String, bytes: [UInt8]) {
        self.path = path
        self.relativePath = relativePath
        self.bytes = bytes
    }
}

/// The outcome of loading a model: the model only when nothing was an error, and every diagnostic.
public struct LoadResult: Sendable {
    public var model: Model?
    /// Sorted by path, line and column.
    public var diagnostics: [Diagnostic]
    /// The files that were read, in load order.
    public var sources: [SegmentSource]
}

/// Loads and validates the segment model from YAML files.
public enum SegmentLoader {
    /// Largest model file accepted (4 MiB): far above any hand-written model, small enough to bound memory and time.
    public static let maximumFileSize = 4 << 20

    /// Reads every `*.yaml`/`*.yml` under `directory` (recursively, sorted, dot-files skipped) and loads them.
    public static func load(directory: String) -> LoadResult {
        let found = SegmentDirectory.read(directory)
        var result = load(sources: found.sources)
        result.diagnostics = (result.diagnostics + found.diagnostics).sorted()
        if found.diagnostics.hasErrors { result.model = nil }
        return result
    }

    /// Loads a model from files already in memory, merging them in the order given.
    public static func load(sources: [SegmentSource]) -> LoadResult {
        let sink = DiagnosticSink()
        var declarations = Declarations()
        for source in sources {
            let reader = FieldReader(path: source.path, relativePath: source.relativePath, sink: sink)
            if source.bytes.count > maximumFileSize {
                sink.error("file is \(source.bytes.count) bytes, over the \(maximumFileSize)-byte limit for model files; split it",
                           at: .whole(source.path, relativePath: source.relativePath))
                continue
            }
            switch YAMLReader.read(source.bytes) {
            case .failure(let problem):
                sink.error(problem.message, at: SourceLocation(path: source.path, relativePath: source.relativePath, mark: problem.mark))
            case .success(nil):
                continue
            case .success(let root?):
                declarations.collect(root, reader: reader)
            }
        }
        let model = declarations.resolve(sink: sink)
        let diagnostics = sink.diagnostics.sorted()
        return LoadResult(model: diagnostics.hasErrors ? nil : model, diagnostics: diagnostics, sources: sources)
    }
}

/// Everything declared across the files, before names are resolved.
private struct Declarations {
    struct ZoneDeclaration {
        var zone: Zone
        var addressNodes: [(prefix: IPPrefix, location: SourceLocation)]
    }

    struct FlowDeclaration {
        var name: String?
        var nameLocation: SourceLocation?
        var from: [(text: String, location: SourceLocation)]
        var to: [(text: String, location: SourceLocation)]
        var service: (name: String, location: SourceLocation)?
        var ports: [PortSpec]
        var description: String?
        var location: SourceLocation
        /// False when the flow itself has errors: its zone and service names are still checked, nothing more.
        var isValid = true
    }

    var zones: [ZoneDeclaration] = []
    var services: [Service] = []
    var flows: [FlowDeclaration] = []

    static let topLevelKeys = ["zones", "services", "flows"]
    static let zoneKeys = ["description", "owner", "addresses", "egress"]
    static let flowKeys = ["name", "from", "to", "service", "ports", "description"]

    mutating func collect(_ root: YAMLNode, reader: FieldReader) {
        if root.isNull { return }
        guard let top = reader.fields(of: root, what: "a model file", known: Self.topLevelKeys) else { return }
        if let zones = top["zones"] {
            for entry in reader.namedEntries(of: zones.value, what: "zones") {
                collectZone(entry, reader: reader)
            }
        }
        if let services = top["services"] {
            for entry in reader.namedEntries(of: services.value, what: "services") {
                collectService(entry, reader: reader)
            }
        }
        if let flows = top["flows"], !flows.value.isNull {
            for item in reader.list(flows.value, what: "flows", allowScalar: false) ?? [] {
                collectFlow(item, reader: reader)
            }
        }
    }

    private mutating func collectZone(_ entry: YAMLPair, reader: FieldReader) {
        guard let name = reader.plainKey(entry.key) else { return }
        let location = reader.location(entry.key)
        var valid = checkName(name, kind: "zone", at: entry.key, reader: reader)
        if name == "world" {
            reader.error("'world' is built in (every address) and cannot be defined as a zone", at: entry.key)
            valid = false
        }
        guard let fields = reader.fields(of: entry.value, what: "zone '\(name)'", known: Self.zoneKeys) else { return }

        var owner = ""
        if let node = fields["owner"]?.value {
            if let text = reader.string(node, what: "owner") { owner = text } else { valid = false }
        } else {
            reader.error("zone '\(name)' has no owner; say who answers for it (owner: team-name)", at: entry.key)
            valid = false
        }
        var description: String?
        if let node = fields["description"]?.value {
            description = reader.string(node, what: "description")
        }
        var egress = Zone.Egress.allow
        if let node = fields["egress"]?.value {
            if let text = node.scalarText, let value = Zone.Egress(rawValue: text) {
                egress = value
            } else {
                reader.error("egress must be 'allow' or 'deny'", at: node)
            }
        }
        var addresses: [(IPPrefix, SourceLocation)] = []
        if let node = fields["addresses"]?.value {
            for item in reader.list(node, what: "addresses") ?? [] {
                guard let text = reader.string(item, what: "an address") else { continue }
                switch IPPrefix.parse(text) {
                case .success(let prefix): addresses.append((prefix, reader.location(item)))
                case .failure(let problem): reader.error(problem.description, at: item)
                }
            }
            if addresses.isEmpty, case .sequence(let items) = node.kind, items.isEmpty {
                reader.warning("zone '\(name)' has no addresses; no traffic will match it", at: node)
            }
        } else {
            reader.warning("zone '\(name)' has no addresses; no traffic will match it", at: entry.key)
        }
        guard valid else { return }
        let zone = Zone(name: name, description: description, owner: owner, addresses: addresses.map(\.0),
                        egress: egress, location: location)
        zones.append(ZoneDeclaration(zone: zone, addressNodes: addresses))
    }

    private mutating func collectService(_ entry: YAMLPair, reader: FieldReader) {
        guard let name = reader.plainKey(entry.key) else { return }
        let valid = checkName(name, kind: "service", at: entry.key, reader: reader)
        let ports = portList(entry.value, reader: reader)
        if let ports, ports.isEmpty {
            reader.error("service '\(name)' lists no ports", at: entry.value)
        }
        guard valid, let ports, !ports.isEmpty else { return }
        services.append(Service(name: name, ports: ports, location: reader.location(entry.key)))
    }

    private mutating func collectFlow(_ item: YAMLNode, reader: FieldReader) {
        guard let fields = reader.fields(of: item, what: "a flow", known: Self.flowKeys) else { return }
        var flow = FlowDeclaration(from: [], to: [], ports: [], location: reader.location(item))
        var valid = true
        if let node = fields["name"]?.value {
            if let text = reader.string(node, what: "a flow name") {
                if ModelName.isValid(text, maximumLength: ModelName.maximumFlowNameLength) {
                    flow.name = text
                    flow.nameLocation = reader.location(node)
                } else {
                    reader.error("invalid flow name '\(text)': use lowercase letters, digits, '-' and '_', starting with a letter, at most \(ModelName.maximumFlowNameLength) characters", at: node)
                    valid = false
                }
            } else { valid = false }
        }
        for side in ["from", "to"] {
            guard let node = fields[side]?.value else {
                reader.error("flow has no '\(side)'; name a zone, a list of zones, or world", at: item)
                valid = false
                continue
            }
            var endpoints: [(String, SourceLocation)] = []
            for entry in reader.list(node, what: "'\(side)'") ?? [] {
                if let text = reader.string(entry, what: "a zone name") { endpoints.append((text, reader.location(entry))) }
            }
            if endpoints.isEmpty {
                if case .sequence = node.kind { reader.error("'\(side)' lists no zones", at: node) }
                valid = false
            }
            if side == "from" { flow.from = endpoints } else { flow.to = endpoints }
        }
        switch (fields["service"], fields["ports"]) {
        case (nil, nil):
            reader.error("flow needs either 'service' or 'ports'", at: item)
            valid = false
        case (.some(let service), .some):
            reader.error("flow has both 'service' and 'ports'; keep one", at: service.key)
            // Still resolve the service, so it is checked and not reported as unused.
            if let text = service.value.scalarText { flow.service = (text, reader.location(service.value)) }
            valid = false
        case (.some(let service), nil):
            if let text = reader.string(service.value, what: "service") {
                flow.service = (text, reader.location(service.value))
            } else { valid = false }
        case (nil, .some(let ports)):
            if let list = portList(ports.value, reader: reader), !list.isEmpty {
                flow.ports = list
            } else {
                if case .sequence(let items) = ports.value.kind, items.isEmpty {
                    reader.error("'ports' lists no ports", at: ports.value)
                }
                valid = false
            }
        }
        if let node = fields["description"]?.value { flow.description = reader.string(node, what: "description") }
        flow.isValid = valid
        flows.append(flow)
    }

    private func portList(_ node: YAMLNode, reader: FieldReader) -> [PortSpec]? {
        guard let items = reader.list(node, what: "ports") else { return nil }
        var result: [PortSpec] = []
        var failed = false
        for item in items {
            guard let text = item.scalarText, !item.isNull else {
                reader.error("a port must be written like tcp/443, udp/53, tcp/8000-8100 or icmp, not \(item.kindName)", at: item)
                failed = true
                continue
            }
            switch PortSpec.parse(text) {
            case .success(let spec): result.append(spec)
            case .failure(let problem):
                reader.error(problem.description, at: item)
                failed = true
            }
        }
        return failed ? nil : result
    }

    private func checkName(_ name: String, kind: String, at node: YAMLNode, reader: FieldReader) -> Bool {
        guard ModelName.isValid(name) else {
            reader.error("invalid \(kind) name '\(name)': use lowercase letters, digits, '-' and '_', starting with a letter, at most \(ModelName.maximumLength) characters", at: node)
            return false
        }
        return true
    }

    /// Checks names across files, resolves references and builds the model.
    func resolve(sink: DiagnosticSink) -> Model {
        var zoneByName: [String: Zone] = [:]
        var keptZones: [ZoneDeclaration] = []
        for declaration in zones {
            let zone = declaration.zone
            if let first = zoneByName[zone.name] {
                sink.error("zone '\(zone.name)' is defined twice; first at \(first.location)", at: zone.location)
                continue
            }
            zoneByName[zone.name] = zone
            keptZones.append(declaration)
        }
        AddressOverlapCheck.run(keptZones.map { ($0.zone.name, $0.addressNodes) }, sink: sink)

        var serviceByName: [String: Service] = [:]
        var keptServices: [Service] = []
        for service in services {
            if let first = serviceByName[service.name] {
                sink.error("service '\(service.name)' is defined twice; first at \(first.location)", at: service.location)
                continue
            }
            serviceByName[service.name] = service
            keptServices.append(service)
        }

        let endpointNames = ["world"] + zoneByName.keys.sorted()
        var flowByName: [String: Flow] = [:]
        var resolvedFlows: [Flow] = []
        var usedServices: Set<String> = []
        for declaration in flows {
            var valid = true
            func resolveSide(_ side: [(text: String, location: SourceLocation)]) -> [Endpoint] {
                var endpoints: [Endpoint] = []
                for (text, location) in side {
                    if text == "world" {
                        endpoints.append(.world)
                    } else if zoneByName[text] != nil {
                        endpoints.append(.zone(text))
                    } else {
                        sink.error("unknown zone '\(text)'" + Suggestion.didYouMean(text, among: endpointNames), at: location)
                        valid = false
                    }
                }
                return endpoints
            }
            let from = resolveSide(declaration.from)
            let to = resolveSide(declaration.to)
            var ports = declaration.ports
            var portSource = Flow.PortSource.inline
            if let (name, location) = declaration.service {
                if let service = serviceByName[name] {
                    ports = service.ports
                    portSource = .service(name)
                    usedServices.insert(name)
                } else {
                    sink.error("unknown service '\(name)'" + Suggestion.didYouMean(name, among: serviceByName.keys.sorted()), at: location)
                    valid = false
                }
            }
            // A flow with errors of its own has had its references checked; it claims no name.
            guard declaration.isValid else { continue }
            let name = declaration.name ?? Self.defaultName(from: declaration.from.map(\.text), to: declaration.to.map(\.text))
            if let first = flowByName[name] {
                let hint = declaration.name == nil ? " (give one of them a 'name:')" : ""
                sink.error("flow '\(name)' is defined twice; first at \(first.location)\(hint)",
                           at: declaration.nameLocation ?? declaration.location)
                continue
            }
            if declaration.name == nil, !ModelName.isValid(name, maximumLength: ModelName.maximumFlowNameLength) {
                sink.error("the default flow name '\(name)' is too long; give the flow a 'name:'", at: declaration.location)
                valid = false
            }
            guard valid else { continue }
            let flow = Flow(name: name, from: Self.unique(from), to: Self.unique(to), ports: ports, portSource: portSource,
                            description: declaration.description, location: declaration.location)
            flowByName[name] = flow
            resolvedFlows.append(flow)
        }
        for service in keptServices where !usedServices.contains(service.name) {
            sink.warning("service '\(service.name)' is not used by any flow", at: service.location)
        }
        return Model(zones: keptZones.map(\.zone), services: keptServices, flows: resolvedFlows)
    }

    /// `<from>-to-<to>`, lists joined with `-` (each name once).
    static func defaultName(from: [String], to: [String]) -> String {
        func joined(_ names: [String]) -> String {
            var seen: Set<String> = []
            return names.filter { seen.insert($0).inserted }.joined(separator: "-")
        }
        return "\(joined(from))-to-\(joined(to))"
    }

    static func unique(_ endpoints: [Endpoint]) -> [Endpoint] {
        var seen: Set<Endpoint> = []
        return endpoints.filter { seen.insert($0).inserted }
    }
}

/// Finds prefixes listed twice and prefixes of one zone that contain another zone's.
enum AddressOverlapCheck {
    static func run(_ zones: [(name: String, addresses: [(prefix: IPPrefix, location: SourceLocation)])], sink: DiagnosticSink) {
        struct Entry {
            var prefix: IPPrefix
            var zone: String
            var location: SourceLocation
        }
        var entries: [Entry] = []
        for zone in zones {
            for address in zone.addresses { entries.append(Entry(prefix: address.prefix, zone: zone.name, location: address.location)) }
        }
        // Sort so that a prefix comes before everything it contains; equal prefixes stay in load order.
        let sorted = entries.enumerated().sorted { a, b in
            (a.element.prefix.family, a.element.prefix.first, a.element.prefix.length, a.offset)
                < (b.element.prefix.family, b.element.prefix.first, b.element.prefix.length, b.offset)
        }.map(\.element)

        var enclosing: [Entry] = []
        // Containment warnings are grouped per (outer prefix, inner zone) to stay readable.
        var contained: [Int: [String: [Entry]]] = [:]
        var outerEntries: [Int: Entry] = [:]
        var outerIndex: [IPPrefix: Int] = [:]
        for entry in sorted {
            while let top = enclosing.last, !top.prefix.contains(entry.prefix) { enclosing.removeLast() }
            if let top = enclosing.last {
                if top.prefix == entry.prefix {
                    if top.zone == entry.zone {
                        sink.warning("\(entry.prefix) is listed twice in zone '\(entry.zone)' (also at \(top.location))", at: entry.location)
                    } else {
                        sink.error("\(entry.prefix) is in zone '\(entry.zone)' and in zone '\(top.zone)' (at \(top.location)); an address belongs to one zone",
                                   at: entry.location)
                    }
                    continue
                }
                if top.zone == entry.zone {
                    sink.warning("\(entry.prefix) is redundant: zone '\(entry.zone)' already has \(top.prefix) (at \(top.location))", at: entry.location)
                } else {
                    let key = outerIndex[top.prefix] ?? outerIndex.count
                    outerIndex[top.prefix] = key
                    outerEntries[key] = top
                    contained[key, default: [:]][entry.zone, default: []].append(entry)
                }
            }
            enclosing.append(entry)
        }
        for (key, byZone) in contained {
            guard let outer = outerEntries[key] else { continue }
            for (zone, inner) in byZone.sorted(by: { $0.key < $1.key }) {
                let shown = inner.prefix(3).map { "\($0.prefix)" }.joined(separator: ", ")
                let more = inner.count > 3 ? " and \(inner.count - 3) more" : ""
                sink.warning("\(outer.prefix) of zone '\(outer.zone)' contains \(shown)\(more) of zone '\(zone)'; those addresses belong to '\(zone)' (the most specific prefix wins)",
                             at: outer.location)
            }
        }
    }
}
