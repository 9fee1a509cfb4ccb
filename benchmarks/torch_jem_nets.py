"""PyTorch on the CPU: a JEM iteration on each network of Joule's benchmark suite, and SGLD on the 2-D MLP
(the networks ../shared/bench/torch_sgld_nets.py does not cover). The iteration is
../shared/bench/torch_jem_step.py's (K SGLD steps on B chains from a buffer: noise 0.005, gradient clamp 0.03,
step 10, chains clamped to [-1, 1]; then px + pyx with alpha 0.1, Adam betas (0, 0.999), gradient norm clipped
to 0.1) with K and B as given; the 2-D MLP's chains are not clamped (points in the plane, as Joule's vectors).
Variants as torch_sgld_nets.py's: fp32, cl (channels_last), bf16 (autocast), clbf16; rounds interleaved.

  torch_jem_nets.py THREADS ROUNDS STEPS NET:HIDDEN:CHAINS...     NET: shallow, residual, wide3, mlp2d
Prints one JSON object per line: {"net", "hidden", "chains", "variant", "what": "jem" | "sgld", "seconds" (median)}."""
import contextlib, json, statistics, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

threads, rounds, K = (int(a) for a in sys.argv[1:4])
nets = [(a.split(":")[0], int(a.split(":")[1]), int(a.split(":")[2])) for a in sys.argv[4:]]
torch.set_num_threads(threads)
torch.manual_seed(0)


class Res(nn.Module):
    def __init__(s, b): super().__init__(); s.b = b
    def forward(s, x): return x + s.b(x)


def block(c): return Res(nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.SiLU(), nn.Conv2d(c, c, 3, 1, 1)))


def network(net, h):
    """(module, one input's shape, classes): the definitions of torch_sgld_nets.py, and the 2-D MLP of
    Joule's scripts/models/mlp2d.lua."""
    if net == "shallow":
        return nn.Sequential(nn.Conv2d(1, h, 5, 2, 4), nn.SiLU(), nn.Conv2d(h, 2*h, 3, 2, 1), nn.SiLU(), nn.Conv2d(2*h, 4*h, 3, 2, 1), nn.SiLU(),
                             nn.Conv2d(4*h, 4*h, 3, 2, 1), nn.SiLU(), nn.Conv2d(4*h, 4*h, 3, 2, 1), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(4*h, 42)), (1, 56, 56), 42
    if net == "residual":
        return nn.Sequential(nn.Conv2d(1, h, 3, 2, 1), nn.SiLU(), block(h), nn.SiLU(), nn.Conv2d(h, 2*h, 3, 2, 1), nn.SiLU(), block(2*h), nn.SiLU(),
                             nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2*h, 42)), (1, 56, 56), 42
    if net == "wide3":
        return nn.Sequential(nn.Conv2d(3, h, 3, 1, 1), nn.SiLU(), block(h), nn.SiLU(), nn.Conv2d(h, 2*h, 3, 2, 1), nn.SiLU(), block(2*h), nn.SiLU(),
                             nn.Conv2d(2*h, 4*h, 3, 2, 1), nn.SiLU(), block(4*h), nn.SiLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(4*h, 10)), (3, 32, 32), 10
    if net == "mlp2d":
        return nn.Sequential(nn.Linear(2, h), nn.SiLU(), nn.Linear(h, h), nn.SiLU(), nn.Linear(h, 1)), (2,), 1
    raise SystemExit(f"unknown network {net}")


def trainer(net, h, B, variant):
    m, shape, classes = network(net, h)
    images = len(shape) == 3
    cl, bf = variant in ("cl", "clbf16"), variant in ("bf16", "clbf16")
    fmt = torch.channels_last if cl else torch.contiguous_format
    m = m.to(memory_format=fmt)
    opt = torch.optim.Adam(m.parameters(), lr=1e-4, betas=(0.0, 0.999))
    real = (torch.rand(B, *shape) * 2 - 1).contiguous(memory_format=fmt) if images else torch.randn(B, *shape)
    labels = torch.randint(0, classes, (B,))
    buf = (torch.rand(B, *shape) * 2 - 1).contiguous(memory_format=fmt) if images else torch.randn(B, *shape)
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf else contextlib.nullcontext
    box = (lambda x: x.clamp_(-1, 1)) if images else (lambda x: x)

    def sgld(x):
        for p in m.parameters(): p.requires_grad_(False)
        x = x.clone().requires_grad_(True)
        for _ in range(K):
            box(x.data.add_(torch.randn_like(x) * 0.005))
            with ctx():
                e = -torch.logsumexp(m(x).float(), 1)
            g, = torch.autograd.grad(e.sum(), x)
            box(x.data.add_(-10 * g.clamp(-0.03, 0.03)))
        for p in m.parameters(): p.requires_grad_(True)
        return x.detach()

    def iteration():
        fake = sgld(buf)
        with ctx():
            logits = m(torch.cat([real, fake])).float()
        r, f = torch.logsumexp(logits, 1).chunk(2)
        px = 0.1 * (r ** 2 + f ** 2).mean() + (f.mean() - r.mean())
        pyx = F.cross_entropy(logits[:B], labels)
        opt.zero_grad(); (px + pyx).backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 0.1); opt.step()

    return (lambda: sgld(buf)), iteration


for net, h, B in nets:
    variants = ["fp32", "bf16"] if net == "mlp2d" else ["fp32", "cl", "bf16", "clbf16"]
    bodies = []
    for v in variants:
        sgld, jem = trainer(net, h, B, v)
        if net == "mlp2d": bodies.append((v, "sgld", sgld))
        bodies.append((v, "jem", jem))
    for _, _, body in bodies: body()          # warm-up
    times = {(v, w): [] for v, w, _ in bodies}
    for _ in range(rounds):
        for v, w, body in bodies:
            t = time.perf_counter(); body(); times[(v, w)].append(time.perf_counter() - t)
    for (v, w), ts in times.items():
        print(json.dumps({"net": net, "hidden": h, "chains": B, "variant": v, "what": w, "seconds": statistics.median(ts)}), flush=True)
