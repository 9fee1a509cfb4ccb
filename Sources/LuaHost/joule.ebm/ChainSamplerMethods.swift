import CLua
import EBM
import Tensor

/// The methods every sampler object has in Lua, written once over `ChainSampler`: a sampler's own
/// binding adds only what is its own (SGLD's single step, a sampler's settings).
enum ChainSamplerMethods {
    static func add(to c: inout LuaClass, _ this: @escaping (LuaCall) throws -> ChainSampler) {
        c.method("sample") { call in
            // sampler:sample{ n = 8, labels = {...}, steps = 256, keep_every = 32 } → final [, frames]
            let s = try this(call)
            guard let o = try call.options(1, allowed: ["n", "labels", "steps", "keep_every"]) else { throw call.bad(1, "options table") }
            let labels = try o.integers("labels", 0...Int.max)
            let n = try o.integer("n", 1...s.maxChains) ?? labels?.count ?? 1
            let (final, frames) = try s.sample(count: n, labels: labels, steps: try o.integer("steps", 0...s.maxSteps),
                                               keepEvery: try o.integer("keep_every", 1...Int.max))
            call.push(final)
            if let frames { call.push(frames); return 2 }
            return 1
        }
        c.method("run") { call in
            // sampler:run(x [, { labels, steps, keep_every }]): x moves in place; returns the frames if kept.
            let s = try this(call)
            let x = try call.tensor(1)
            let o = try call.options(2, allowed: ["labels", "steps", "keep_every"])
            let frames = try s.run(x, labels: try o?.integers("labels", 0...Int.max), steps: try o?.integer("steps", 0...s.maxSteps),
                                   keepEvery: try o?.integer("keep_every", 1...Int.max))
            if let frames { call.push(frames); return 1 }
            return 0
        }
        c.method("acceptance") { call in
            // sampler:acceptance() → { a1, ..., aN }: each chain's share of accepted proposals in the latest
            // run; nil for a sampler without a Metropolis test (SGLD, annealed Langevin).
            guard let a = try this(call).acceptance else { call.pushNil(); return 1 }
            call.push(a); return 1
        }
        c.method("buffer_size") { call in call.push(try this(call).buffer.totalCount); return 1 }
    }
}
