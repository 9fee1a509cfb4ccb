import Formats
import CLua
import Foundation
import Tensor

/// State the `joule` module shares across its functions during one run.
public final class JouleContext {
    /// The generator behind `joule.tensor.rand/randn` and default seeds; `joule.seed` resets it.
    public let rng = RNG(seed: 0)
    public let parameters: Parameters
    public let run: RunFolder
    public let scriptPath: String?

    public init(scriptPath: String?, parameters: Parameters, runFolder: RunFolder? = nil) {
        self.scriptPath = scriptPath
        self.parameters = parameters
        // A resumed run keeps writing into the run folder it resumes, unless -p run says otherwise.
        self.run = runFolder ?? RunFolder(explicit: parameters.value("run") ?? RunFolder.resumed(parameters.value("resume")),
                                          script: scriptPath)
    }
}

/// Builds the `joule` module and makes it both a global and `require "joule"`.
public enum JouleModule {
    public static let version = "0.1.0"

    public static func install(_ lua: LuaState, _ context: JouleContext) {
        let L = lua.L
        lua_createtable(L, 0, 16)
        let module = lua_gettop(L)
        lua_pushstring(L, version)
        lua_setfield(L, module, "version")

        TensorBinding.install(lua, context)
        lua_setfield(L, module, "tensor")

        lua.setFunction("seed", qualified: "joule.seed") { call in
            context.rng.reseed(UInt64(bitPattern: Int64(try call.integer(1))))
            return 0
        }
        lua.setFunction("load_npy", qualified: "joule.load_npy") { call in
            // Every array of the file, in order (a course split holds images, then labels).
            let arrays = try Npy.read(try call.string(1))
            guard lua_checkstack(call.L, Int32(arrays.count) + 1) != 0 else {
                throw JouleError("too many arrays in one file")
            }
            for a in arrays { call.push(a.tensor()) }
            return Int32(arrays.count)
        }
        lua.setFunction("interrupted", qualified: "joule.interrupted") { call in
            // A script that asks handles interrupts itself: from now on the first only raises this flag.
            LuaState.handleInterruptsPolitely()
            call.push(LuaState.interruptRequested); return 1
        }
        ParamsBinding.install(lua, context)
        LogBinding.install(lua, context)
        ResultBinding.install(lua, context)
        ProgressBinding.install(lua)
        EngineBindings.install(lua, context)
        PlotBinding.install(lua, module: module)
        TensorBoardBinding.install(lua, context, module: module)

        lua_pushvalue(L, module)
        lua.setGlobal("joule")
        lua_getglobal(L, "package")
        lua_getfield(L, -1, "loaded")
        lua_pushvalue(L, module)
        lua_setfield(L, -2, "joule")
        lua_settop(L, module - 1)
        WidgetsLibrary.install(lua)
    }
}

extension JouleModule {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule", "joule",
     "The module every script and notebook sees as a global (also `require \"joule\"`): tensors (joule.tensor), models (joule.nn), sampling and training (joule.ebm), data (joule.data), metrics (joule.metrics), OOD scores (joule.ood), pictures (joule.plot), parameters, logging and run folders."),
    ("joule.version", "joule.version  (string)", "Joule's version, e.g. \"0.1.0\"."),
    ("joule.seed", "joule.seed(n)",
     "Reseeds the module's random generator, which draws joule.tensor.rand/randn and the default seed of every object made without an explicit `seed` option; the same seed gives the same numbers run after run."),
    ("joule.load_npy", "joule.load_npy(path) → Tensor, ...",
     "Reads every array of a .npy file (format 1.0–3.0, little-endian u8/i32/i64/f32/f64, C order) as Float32 tensors, in file order; the course's split files hold the images, then the labels."),
    ("joule.interrupted", "joule.interrupted() → boolean",
     "True once the user pressed Ctrl-C (or a notebook front end asked to interrupt): a loop can finish its step, save and stop. A second interrupt stops the script at once."),
    ("joule.display", "joule.display(value, ...)",
     "In a notebook or the Jupyter kernel: shows each value as an output of the cell — a figure (from joule.plot) as an inline PNG, anything else as its text. (Scripts save figures with fig:save(path) instead.)"),
    ("joule.clear_output", "joule.clear_output([wait])",
     "In a notebook, clears the current cell's outputs (with wait = true, only when the next output arrives: for a picture that updates in place). Does nothing outside a notebook."),
    ]
}
