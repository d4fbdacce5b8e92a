"""Helpers the benchmark scripts share: the machine line, the load average and the reference matmul rate.

Imported as `from _common import ...`: each script runs as `python benchmarks/<name>.py`, which puts this
folder first on sys.path.
"""
import os, platform, time
from pathlib import Path

import torch


def cpu_name() -> str:
    "The CPU's model name, vendor family/model and its AVX-512/bf16/AMX instruction sets (`sagan_seg.demo.cpu_name`)."
    from sagan_seg.demo import cpu_name as name
    return name()


def machine_line(threads: bool = True) -> str:
    "CPU, core count, torch (and its thread count), Python and OS, for a results file's 'Machine:' line."
    t = f' ({torch.get_num_threads()} threads)' if threads else ''
    return (f'{cpu_name()}, {os.cpu_count()} CPUs, torch {torch.__version__}{t}, '
            f'Python {platform.python_version()}, {platform.system()} {platform.release()}')


def load_avg() -> str:
    "The 1, 5 and 15 minute load averages, e.g. '0.4 0.9 1.2' ('n/a' where the OS has none)."
    return ' '.join(f'{v:.1f}' for v in os.getloadavg()) if hasattr(os, 'getloadavg') else 'n/a'


def load1() -> float:
    "The 1-minute load average (nan where the OS has none)."
    return os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')


def matmul_gflops(n: int = 1024, reps: int = 5) -> float:
    "This CPU's fp32 matmul rate at torch's current thread count: GFLOP/s of the fastest of `reps` n x n products."
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b                                                # warm-up
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
    return 2 * n**3 / min(ts) / 1e9


def write_results(text: str, out: str | None) -> str:
    "Print a results file's text and, unless `out` is empty, write it there whole (temporary file, then rename)."
    print(text)
    if out:
        p = Path(out); p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + '.partial')
        tmp.write_text(text); os.replace(tmp, p)
    return text
