import BulkheadCLI
#if canImport(Glibc)
import Glibc
#endif

exit(BulkheadCommandLine.run(Array(CommandLine.arguments.dropFirst())))
