"Shared helpers of the training tests: a tiny synthetic dataset and a tiny, fast training config."
import dataclasses
from pathlib import Path
from sagan_seg.synth import write_synthetic_dataset
from sagan_seg.generator import GeneratorConfig
from sagan_seg.discriminator import DiscriminatorConfig
from sagan_seg.training import TrainConfig

def tiny_dataset(root: Path, n: int = 10, size: int = 64, seed: int = 0) -> Path:
    "A synthetic dataset folder of `n` tiles (written once per `root`)."
    d = Path(root)/f'synth_{n}_{size}_{seed}'
    if not (d/'images').exists(): write_synthetic_dataset(d, n=n, size=size, seed=seed)
    return d

def tiny_config(data: Path, out: Path, **kw) -> TrainConfig:
    "A training config small enough for an epoch to take well under a second on a CPU."
    g = GeneratorConfig(depth=2, base_width=8, attn_levels=('bottleneck',), norm=kw.pop('norm', 'batch'))
    d = DiscriminatorConfig(depth=2, base_width=8, attn_level=1, real_noise=kw.pop('real_noise', 0.1), output=kw.pop('disc_output', 'image'))
    base = dict(data=str(data), out=str(out), epochs=4, batch_size=4, crop=32, lr_g=2e-3, lr_d=4e-3, lambda_adv=0.05,
                generator=g, discriminator=d, progress=False, device='cpu')
    base.update(kw)
    return TrainConfig(**base)

import pytest, torch

@pytest.fixture(autouse=True, scope="module")
def one_thread():
    "Tiny networks run faster on one thread than on two contending ones (and the 2 CPU cores are shared)."
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
