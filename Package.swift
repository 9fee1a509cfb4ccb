// swift-tools-version:6.0
import Foundation
import PackageDescription

// Numerics run with bounds and overflow checks off in release builds; debug builds keep them.
// They are compiled for the CPU that builds them (as -march=native): Joule is built from source on the
// machine it runs on, and the elementwise loops of SGLD (Swish's exp, clamps, im2col) then vectorise
// as wide as that CPU allows — 16 floats with AVX-512 instead of SSE2's 4. Swift fuses no multiply
// and add into an FMA of its own, so these loops give the same results on every CPU.
// JOULE_TARGET_CPU names another CPU (e.g. `haswell` for AVX2) for a binary that must also run
// on older machines, such as the nodes of a cluster whose CPUs differ from the one that builds.
// Swift's C importer knows CPU names, not x86-64's feature levels: a level is built for the
// oldest CPU that has all of it (x86-64-v3: AVX2, FMA, BMI2 — Haswell).
let cpuLevels = ["x86-64-v2": "nehalem", "x86-64-v3": "haswell", "x86-64-v4": "skylake-avx512"]
let requestedCPU = ProcessInfo.processInfo.environment["JOULE_TARGET_CPU"] ?? "native"
let targetCPU = cpuLevels[requestedCPU] ?? requestedCPU
// The widest vectors the target allows. A binary for an AVX2 target must not run AVX-512 code even
// where the CPU has it (the cluster's other nodes do not): the kernels compiled for AVX-512 whatever
// the build (CBF16's, by function attributes) are then left out, and the code chooses as on an AVX2
// CPU. This is the one place that knows; CBF16 passes it on (joule_build_target.h), Swift reads it
// there (`BuildTarget`). Native builds check the running CPU instead.
let avx512CPUs: Set = ["skylake-avx512", "cascadelake", "cooperlake", "cannonlake", "icelake-client", "icelake-server",
                       "tigerlake", "rocketlake", "sapphirerapids", "emeraldrapids", "graniterapids", "znver4", "znver5"]
let targetVectors = requestedCPU == "native" ? "native"
    : avx512CPUs.contains(targetCPU) ? "AVX-512"
    : ["nehalem": "SSE4.2", "haswell": "AVX2"][targetCPU] ?? "no AVX-512"
let buildTarget: [CSetting] = [.define("JOULE_TARGET_CPU", to: "\"\(requestedCPU)\""),
                               .define("JOULE_TARGET_VECTORS", to: "\"\(targetVectors)\"")]
    + (targetVectors == "native" || targetVectors == "AVX-512" ? [.define("JOULE_TARGET_AVX512")] : [])
let fast: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-target-cpu", targetCPU], .when(configuration: .release))]
// The tensor layer holds the hot kernels (the convolutions' GEMM among them): debug builds optimise
// it too, checks kept, so that tests run the same vectorised code at a usable speed.
let tensor: [SwiftSetting] = fast + [.unsafeFlags(["-O", "-target-cpu", targetCPU], .when(configuration: .debug))]

let package = Package(
    name: "Joule",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "joule", targets: ["joule"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // System libraries (Debian's -dev packages; see scripts/setup).
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4"),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas"),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng"),
        .systemLibrary(name: "CFreeType", pkgConfig: "freetype2"),
        .systemLibrary(name: "CZMQ", pkgConfig: "libzmq"),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg"),
        .systemLibrary(name: "CTIFF", pkgConfig: "libtiff-4"),
        // PNG, JPEG and TIFF decoding for `joule data import`: error handlers that longjmp (C only).
        .target(name: "CImageCodecs", dependencies: ["CPNG", "CJPEG", "CTIFF"],
                linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg"), .linkedLibrary("tiff")]),

        // bfloat16 GEMM tiles (AVX512-BF16 intrinsics, checked for at run time) for sampling in bf16,
        // and what the build targets.
        .target(name: "CBF16", cSettings: buildTarget),

        // Layers, bottom to top: JouleCore → Tensor → Formats → NN → EBM → edges (Data, Plot, LuaHost, CLI).
        // What every layer uses — errors, the one JSON reader and writer, atomic files, progress,
        // interruption, suggestions. It reads outside bytes (notebooks, connection files, checkpoint
        // metadata, logs), so it keeps Swift's checks in every build.
        .target(name: "JouleCore"),
        // Thread affinity for the parallel regions (see Tensor's Parallel.swift).
        .target(name: "CAffinity"),
        .target(name: "Tensor", dependencies: ["JouleCore", "COpenBLAS", "CBF16", "CAffinity"], swiftSettings: tensor),
        // File formats (.npy, safetensors, training state) parse bytes from outside: compiled with
        // Swift's overflow and bounds checks in every build, so a size that slips past a check traps
        // instead of reading memory that is not the file's.
        .target(name: "Formats", dependencies: ["Tensor"]),
        .target(name: "NN", dependencies: ["Tensor"], swiftSettings: fast),
        // Networks rebuilt from a checkpoint's architecture JSON: outside bytes, read with checks.
        .target(name: "ArchitectureFiles", dependencies: ["NN", "Tensor"]),
        .target(name: "EBM", dependencies: ["NN", "ArchitectureFiles", "Tensor", "Formats"], swiftSettings: fast),
        // Image files and folders of them (outside bytes and names): checked like Formats.
        .target(name: "ImageFiles", dependencies: ["JouleCore", "CImageCodecs"]),
        .target(name: "Data", dependencies: ["Tensor", "Formats", "ImageFiles", "CFreeType"], swiftSettings: fast),
        .target(name: "Plot", dependencies: ["Tensor", "CPNG", "CFreeType"], swiftSettings: fast),
        // TensorBoard's event files (TFRecord framing, masked CRC-32C, the Event protocol buffers).
        .target(name: "TensorBoard", dependencies: ["JouleCore"]),
        // Lua shipped with the binary is written in .lua files (Sources/LuaHost/Lua), turned into
        // Swift constants at build time by the EmbedLua plugin.
        .executableTarget(name: "LuaEmbedder"),
        .plugin(name: "EmbedLua", capability: .buildTool(), dependencies: ["LuaEmbedder"]),
        .target(name: "LuaHost", dependencies: ["CLua", "Tensor", "Formats", "NN", "EBM", "Data", "Plot", "TensorBoard"],
                exclude: ["Lua"], swiftSettings: fast, plugins: ["EmbedLua"]),
        // The interactive console (`joule`, `joule repl`): libedit line editing and Ctrl-C handling in C.
        .target(name: "CConsole", linkerSettings: [.linkedLibrary("edit")]),
        .target(name: "Console", dependencies: ["LuaHost", "CLua", "CConsole"]),
        .target(name: "Sweep", dependencies: ["LuaHost", "CLua", "JouleCore"]),
        // Notebooks (.ipynb) and the Jupyter kernel (ZeroMQ, HMAC-SHA256 from swift-crypto).
        .target(name: "Notebook", dependencies: ["LuaHost", "CLua", "CZMQ", "JouleCore", "Plot",
                                                 .product(name: "Crypto", package: "swift-crypto")],
                exclude: ["Lua"], plugins: ["EmbedLua"]),
        .executableTarget(
            name: "joule",
            dependencies: ["Tensor", "Formats", "NN", "EBM", "Data", "LuaHost", "Plot", "Sweep",
                           "Console",
                           "Notebook",
                           .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fast),

        .target(name: "TestSupport", dependencies: ["Tensor", "Formats", "NN", "EBM"], path: "Tests/TestSupport"),
        .testTarget(name: "JouleCoreTests", dependencies: ["JouleCore"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "FormatsTests", dependencies: ["Formats", "Tensor", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "ArchitectureFiles", "Tensor", "TestSupport"]),
        .testTarget(name: "EBMTests", dependencies: ["Formats", "EBM", "NN", "ArchitectureFiles", "Tensor", "Data", "TestSupport"]),
        .testTarget(name: "DataTests", dependencies: ["Formats", "Data", "Tensor", "TestSupport"]),
        .testTarget(name: "ImageFilesTests", dependencies: ["ImageFiles", "Data", "Formats", "Plot", "Tensor", "TestSupport"]),
        .testTarget(name: "PlotTests", dependencies: ["Formats", "Plot", "Tensor", "TestSupport"]),
        .testTarget(name: "LuaHostTests", dependencies: ["Formats", "LuaHost", "Tensor", "EBM", "Data", "Plot", "TensorBoard", "TestSupport"]),
        .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard", "JouleCore"]),
        .testTarget(name: "ConsoleTests", dependencies: ["Console", "LuaHost", "TestSupport"]),
        .testTarget(name: "SweepTests", dependencies: ["Sweep", "LuaHost", "Tensor", "TestSupport"]),
        .testTarget(name: "NotebookTests", dependencies: ["Notebook", "LuaHost", "Tensor", "Plot"]),
    ],
    swiftLanguageModes: [.v5]
)
