// swift-tools-version:6.0
import PackageDescription

// Layers, bottom up:
//   CYaml            libyaml through pkg-config (the only C module below the core)
//   BulkheadYAML     libyaml events -> plain Swift YAML nodes with source positions
//   CNftnl           libnftnl + libmnl through pkg-config
//   BulkheadCore     model, loader, validation, compiler, ruleset values, diff, renderer (no root, no kernel)
//   CSystemd         libsystemd (sd-event loop, sd_notify, journal) through pkg-config
//   BulkheadNetlink  the only code that talks to the kernel: encode, apply, dump, decode, change events
//   BulkheadDaemon   `bulkhead run`: one sd-event loop, reconcile, drift handling, status, metrics, journal
//   BulkheadCLI      argument parsing and commands; `bulkhead` main only calls into it
let package = Package(
    name: "Bulkhead",
    products: [
        .executable(name: "bulkhead", targets: ["bulkhead"]),
    ],
    targets: [
        .systemLibrary(
            name: "CYaml",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CNftnl",
            pkgConfig: "libnftnl",
            providers: [.apt(["libnftnl-dev", "libmnl-dev"])]
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(name: "BulkheadYAML", dependencies: ["CYaml"]),
        .target(name: "BulkheadCore", dependencies: ["BulkheadYAML"]),
        .target(name: "BulkheadNetlink", dependencies: ["BulkheadCore", "CNftnl"]),
        .target(name: "BulkheadDaemon", dependencies: ["BulkheadCore", "BulkheadNetlink", "CSystemd"]),
        .target(name: "BulkheadCLI", dependencies: ["BulkheadCore", "BulkheadNetlink", "BulkheadDaemon"]),
        .executableTarget(name: "bulkhead", dependencies: ["BulkheadCLI"]),
        // Benchmark tooling: a reproducible generator of fleet-sized models.
        .executableTarget(name: "bulkhead-bench", dependencies: ["BulkheadCore"]),
        // Shared by both test targets: the model's semantics restated independently, and an
        // in-memory interpreter for ruleset values.
        .target(name: "BulkheadTestSupport", dependencies: ["BulkheadCore", "BulkheadYAML"], path: "Tests/BulkheadTestSupport"),
        .testTarget(
            name: "BulkheadCoreTests",
            dependencies: ["BulkheadCore", "BulkheadYAML", "BulkheadCLI", "BulkheadTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "BulkheadKernelTests",
            dependencies: ["BulkheadCore", "BulkheadNetlink", "BulkheadCLI", "BulkheadTestSupport"],
            exclude: ["Fixtures"]
        ),
    ]
)
