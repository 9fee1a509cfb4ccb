"""The benchmark suite side by side in one run (scripts/bench --suite [RUNS]): for every network, PyTorch's SGLD
(../shared/bench/torch_sgld_nets.py; the 2-D MLP from benchmarks/torch_jem_nets.py) and JEM iteration
(benchmarks/torch_jem_nets.py) in its four variants, then Joule's (`joule bench --suite --json`), with the same
threads, chains and steps; a Markdown table with the ratios against PyTorch's fastest variant, GFLOP/s against
the FP32 GEMM peak measured in the same run, the rate that twice PyTorch's fastest would take against the
fastest GEMM peak of the CPU (bf16's where it runs), and the CPU's name (as scripts/bench gives it, else
/proc/cpuinfo's). Usage: bench-suite.py RUNS THREADS [CPU]"""
import json, os, re, subprocess, sys

runs, threads = int(sys.argv[1]), int(sys.argv[2])
shared = "../shared/bench/torch_sgld_nets.py"
py = ".venv-torch/bin/python"
steps = 20
nets = [("shallow", 16, 32), ("shallow", 32, 32), ("shallow", 64, 32), ("shallow", 128, 32),
        ("residual", 16, 32), ("wide3", 16, 32), ("wide3", 32, 32), ("mlp2d", 64, 1024)]
if os.environ.get("BENCH_NETS"):   # a part of the suite, e.g. BENCH_NETS="wide3:16 mlp2d:64"
    keep = os.environ["BENCH_NETS"].split()
    nets = [n for n in nets if f"{n[0]}:{n[1]}" in keep]
cpu = sys.argv[3] if len(sys.argv) > 3 else next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
env = dict(os.environ, PYTHONWARNINGS="ignore")


def run(args):
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        sys.exit(f"bench: {' '.join(args)} failed:\n{r.stderr[-2000:]}")
    return r.stdout


torch = {}   # (net, hidden, what, variant) -> seconds
print(f"== PyTorch SGLD ({shared}, {threads} threads, {steps} steps, median of {runs})", flush=True)
for net, h, n in nets:
    if net == "mlp2d":
        continue
    for v in ("fp32", "cl", "bf16", "clbf16"):
        out = run([py, shared, net, str(h), str(n), str(steps), str(threads), str(runs), v])
        torch[(net, h, "sgld", v)] = float(out.split()[-1])
        print(f"  {net} h{h} {v}: {torch[(net, h, 'sgld', v)]:.4f} s", flush=True)
print(f"== PyTorch JEM iterations and the MLP's SGLD (benchmarks/torch_jem_nets.py, variants interleaved)", flush=True)
out = run([py, "benchmarks/torch_jem_nets.py", str(threads), str(runs), str(steps)] + [f"{a}:{b}:{c}" for a, b, c in nets])
for line in out.splitlines():
    r = json.loads(line)
    torch[(r["net"], r["hidden"], r["what"], r["variant"])] = r["seconds"]
print(f"== Joule (joule bench --suite, median of {runs})", flush=True)
joule = json.loads(run([".build/release/joule", "bench", "--suite", "--json", "--runs", str(runs), "--suite-steps", str(steps),
                         "--networks", ",".join(f"{a}:{b}" for a, b, _ in nets)]))
peak = joule["gemm_peak_gflops"]
# The fastest arithmetic this CPU offers for products: bf16's where it runs, else FP32's.
bf16_peak = joule.get("bf16_gemm_peak_gflops")
best_peak, best_name = (bf16_peak, "bf16") if bf16_peak and bf16_peak > peak else (peak, "FP32")

print()
print(f"{cpu}, {threads} threads; PyTorch {run([py, '-c', 'import torch; print(torch.__version__)']).strip()}, "
      f"Joule's OpenBLAS kernel {joule['blas_kernel']}; FP32 GEMM peak {peak:.0f} GFLOP/s (sgemm 2048³, this run)"
      f"{f', bf16 GEMM peak {bf16_peak:.0f} GFLOP/s' if bf16_peak else ''}; "
      f"{steps} SGLD steps; medians of {runs}.")
print()
names = {"fp32": "FP32", "cl": "channels_last", "bf16": "bf16", "clbf16": "cl+bf16"}
print("| network | measure | PyTorch FP32 | channels_last | bf16 | cl+bf16 | Joule FP32 | Joule bf16 sampling | Joule auto (default) | Joule's default vs PyTorch's fastest | Joule FP32 GFLOP/s (% of peak) | 2× PyTorch's fastest needs |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
worst, chosen, beyond = None, {}, []
for r in joule["networks"]:
    net, h, n = r["net"], r["hidden"], r["chains"]
    if (net, h, n) not in nets:
        continue
    if "auto_precision" in r:
        chosen[f"{net} h{h}"] = r["auto_precision"]
    for what, key in (("sgld", "sgld"), ("jem", "jem")):
        t = {v: torch.get((net, h, what, v)) for v in names}
        have = {v: s for v, s in t.items() if s is not None}
        fastest = min(have, key=have.get)
        j32, j16, jauto = r[f"{key}_s"], r.get(f"{key}_bf16_s"), r.get(f"{key}_auto_s")
        # What a user gets without options: auto where the CPU has bf16, else FP32.
        default = jauto if jauto else j32
        ratio = have[fastest] / default
        worst = ratio if worst is None else min(worst, ratio)
        cells = " | ".join(f"{s:.4f} s" if s is not None else "–" for s in t.values())
        label = "SGLD" if what == "sgld" else "JEM iteration"
        gf = r[f"{key}_gflops"]
        # The rate that 2× PyTorch's fastest would take, all multiply-adds counted as direct
        # convolutions do (Winograd's layers need fewer), against the fastest arithmetic here.
        need = r[f"{key}_flops"] / (have[fastest] / 2) / 1e9
        if need > best_peak:
            beyond.append(f"{net} h{h} {'SGLD' if what == 'sgld' else 'JEM'}")
        print(f"| {net} h{h} ({n} chains) | {label} | {cells} | {j32:.4f} s | {f'{j16:.4f} s' if j16 else '–'} | "
              f"{f'{jauto:.4f} s' if jauto else '–'} | {ratio:.2f}× ({names[fastest]}) | {gf:.0f} ({100 * gf / peak:.0f} %) | "
              f"{need:.0f} GFLOP/s ({100 * need / best_peak:.0f} % of {best_name} peak) |")
print()
print(f"Smallest ratio of Joule's default against PyTorch's fastest variant: {worst:.2f}×.")
if beyond:
    print(f"Twice PyTorch's fastest would take more than the {best_name} GEMM peak ({best_peak:.0f} GFLOP/s) with every "
          f"multiply-add done, as direct convolutions do: {', '.join(beyond)}.")
if chosen:
    print("What auto chose: " + "; ".join(f"{k}: {v}" for k, v in chosen.items()) + ".")
