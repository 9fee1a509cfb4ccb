import CLua
import EBM
import Foundation
import Tensor

/// joule.ebm.diagnostics(frames [, { model, labels, warmup }]): bulk ESS and rank R-hat of kept
/// chains (the numerics are EBM's Diagnostics).
enum DiagnosticsBinding {
    static func install(_ lua: LuaState) {
        lua.setFunction("diagnostics", qualified: "joule.ebm.diagnostics") { call in
            var frames = try call.tensor(1)
            let o = try call.options(2, allowed: ["model", "labels", "warmup"])
            let model = try o.flatMap { o in o.has("model") ? try EnergyBinding.model(o, required: "model") : nil }
            let labels = try o?.integers("labels", 0...Int.max)
            if labels != nil && model == nil { throw call.bad(2, message: "field 'labels' needs a 'model' (labels choose the energy E(x, y))") }
            if let warmup = try o?.integer("warmup", 0...Int.max), warmup > 0 {
                // The first frames (the start, and the chains' way from it) left out.
                guard frames.rank >= 1, warmup < frames.shape[0] else {
                    throw call.bad(2, message: "field 'warmup': \(warmup) frames dropped from \(frames.shape.first ?? 0) leaves none")
                }
                frames = try frames.items(warmup..<frames.shape[0])
            }
            let summary = try Diagnostics.summary(frames: frames)
            var energy: (trace: Tensor, summary: Diagnostics.Summary)?
            if let model {
                let trace = try Diagnostics.energyTrace(model: model, frames: frames, labels: labels)
                energy = (trace, try Diagnostics.summary(frames: trace))
            }
            call.pushTable { t in
                t.set("ess", summary.ess)
                t.set("rhat", summary.rhat)
                t.set("draws", summary.draws)
                t.set("chains", summary.chains)
                t.set("ess_min", summary.essMin)
                t.set("ess_median", summary.essMedian)
                t.set("rhat_max", summary.rhatMax)
                if let energy {
                    t.table("energy") { e in
                        e.set("ess", energy.summary.ess[0])
                        e.set("rhat", energy.summary.rhat[0])
                        e.set("trace", energy.trace)
                    }
                }
            }
            return 1
        }
    }
}

extension DiagnosticsBinding {
    /// The documentation of what this file binds (name, signature, paragraph), read by `JouleDocs`.
    static let documentation: [(String, String, String)] = [
    ("joule.ebm.diagnostics", "joule.ebm.diagnostics(frames [, { model = m, labels = {...}, warmup = k }]) → { ess, rhat, ess_min, ess_median, rhat_max, draws, chains [, energy] }",
     "How well kept chains have mixed: for frames draws × chains × state — what sampler:sample{ keep_every = k } returns, (F, N, C, H, W) or (F, N, D) — the bulk effective sample size (ess) and the rank-normalised split R-hat (rhat) of every coordinate of a chain's state (lists in row-major order), as Vehtari et al. (2021) define them and ArviZ computes them (arviz.ess(method='bulk'), arviz.rhat(method='rank'); equal to 1e-6). ess_min and ess_median summarise ess over the coordinates, rhat_max is the largest R-hat of the coordinates that move. R-hat near 1 (below 1.01) says the chains agree; an ESS far below draws × chains says they move slowly. With a model (a network or a joule.ebm.Energy; labels for E(x, y)), also energy = { ess, rhat, trace }: the diagnostics of the chains' energies and the energies themselves, (F, N), for joule.plot.energy_trace. warmup = k leaves out the first k frames (the start from noise, and the way from it). Needs at least 4 draws and 2 chains and finite frames; a coordinate that never moves has ess = draws × chains and rhat NaN."),
    ]
}
