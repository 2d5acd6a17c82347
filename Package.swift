// swift-tools-version:6.0
import PackageDescription

// Layers, bottom up:
//   CYaml            libyaml through pkg-config (the only C module below the core)
//   BulkheadYAML     libyaml events -> plain Swift YAML nodes with source positions
//   BulkheadCore     model, loader, validation, compiler, ruleset values, renderer (no root, no kernel)
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
        .target(name: "BulkheadYAML", dependencies: ["CYaml"]),
        .target(name: "BulkheadCore", dependencies: ["BulkheadYAML"]),
        .target(name: "BulkheadCLI", dependencies: ["BulkheadCore"]),
        .executableTarget(name: "bulkhead", dependencies: ["BulkheadCLI"]),
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
            dependencies: ["BulkheadCore", "BulkheadCLI", "BulkheadTestSupport"],
            exclude: ["Fixtures"]
        ),
    ]
)
