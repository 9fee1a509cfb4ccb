import CLua
import Foundation
import Tensor

/// joule.nn, joule.ebm, joule.metrics, joule.ood, joule.data: bindings of the engine.
enum EngineBindings {
    static func install(_ lua: LuaState, _ context: JouleContext) {}
}
