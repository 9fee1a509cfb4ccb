import Foundation
import PackagePlugin

/// Lua that ships with the binary lives in `.lua` files (where Lua tooling sees it), in a target's
/// `Lua/` folder; this build step turns them into one Swift file of string constants, so the
/// binary carries them wherever it is copied (a resource bundle would not follow it).
@main
struct EmbedLua: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let folder = context.package.directoryURL.appendingPathComponent("Sources/\(target.name)/Lua")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let inputs = names.filter { $0.hasSuffix(".lua") }.sorted().map { folder.appendingPathComponent($0) }
        guard !inputs.isEmpty else { return [] }
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("EmbeddedLua.swift")
        return [.buildCommand(displayName: "Embedding \(inputs.count) Lua files of \(target.name)",
                              executable: try context.tool(named: "LuaEmbedder").url,
                              arguments: [output.path] + inputs.map(\.path),
                              inputFiles: inputs, outputFiles: [output])]
    }
}
