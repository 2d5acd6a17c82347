import BulkheadCore

/// `bulkhead render`: print the compiled ruleset as an nft script.
enum RenderCommand: Command {
    static let name = "render"
    static let summary = "print the nftables ruleset the model compiles to"
    static let options = ModelOptions.specs + [
        OptionSpec(long: "help", short: "h", valueName: nil, help: "show this help"),
    ]
    static var help: String {
        """
        Usage: bulkhead render [-s DIR] [-c FILE] [--hooks input,output,forward] [--policy enforce|audit]

        Validates the model and prints the table 'inet bulkhead' it compiles to, as an nft
        script. Rules and sets carry comments naming their flow and its file:line. The script
        starts with 'table ...; delete table ...' so that 'nft -f' replaces the table in one
        transaction. Nothing is changed on the host and no root is needed.

        Options:
        \(ArgumentScanner.helpLines(options))

        Exit status: 0 when the model is valid, 1 when not (diagnostics on stderr).

        Examples:
          bulkhead render -s segments/ > bulkhead.nft && nft -c -f bulkhead.nft
          bulkhead render -s segments/ --hooks input,output --policy audit
        """ + "\n"
    }

    static func run(_ arguments: ParsedArguments, console: Console) -> Int32 {
        guard arguments.positional.isEmpty else {
            console.err("bulkhead render: unexpected argument '\(arguments.positional[0])'; see 'bulkhead render --help'\n")
            return ExitCode.failure
        }
        guard let settings = ModelOptions.settings(arguments, console: console) else { return ExitCode.failure }
        let (model, result) = ModelOptions.load(settings, console: console)
        guard let model else { return ExitCode.failure }
        console.out(TableText.script(Compiler(model: model, settings: settings).compile(digest: ModelDigest.of(result.sources))))
        return ExitCode.success
    }
}
