"Checkpoints (atomic, code-free, architecture-checked), NaN stops, options, load_generator/evaluate."
import dataclasses, json, os, pickle
from pathlib import Path
import pytest, torch
import sagan_seg.step as S
from sagan_seg.core import SaganSegError
from sagan_seg.data import SegFolder
from sagan_seg.generator import GeneratorConfig
from sagan_seg.training import TrainConfig, ConfigError
from sagan_seg.step import evaluate
from sagan_seg.checkpoints import load_checkpoint, save_checkpoint, load_generator, evaluate_checkpoint, CheckpointError
from sagan_seg.fitting import fit, TrainingDiverged
from training_utils import tiny_dataset, tiny_config, one_thread  # noqa: F401 (autouse fixture)

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "One finished tiny run, shared by the tests of this file."
    root = tmp_path_factory.mktemp('run')
    data = tiny_dataset(root)
    cfg = tiny_config(data, root/'run', epochs=2)
    hist = fit(cfg)
    return cfg, hist, root

def test_run_folder(run):
    cfg, hist, root = run
    out = Path(cfg.out)
    names = {p.name for p in out.iterdir()}
    assert {'last.pt', 'best.pt', 'history.csv', 'config.json', 'curves.png', 'best_metrics.md'} <= names
    assert not [n for n in names if n.endswith('.tmp')]
    assert TrainConfig.from_dict(json.loads((out/'config.json').read_text())) == cfg
    assert len(hist) == 2 and {'gamma_G.bottleneck', 'gamma_D.attn1'} <= set(hist.columns)

def test_errors_are_sagan_seg_errors():
    for e in (CheckpointError, ConfigError, TrainingDiverged): assert issubclass(e, SaganSegError)

def test_tampered_checkpoint_is_refused(run, tmp_path):
    cfg, _, _ = run
    ck = torch.load(Path(cfg.out)/'last.pt', weights_only=True)
    class Evil:
        def __reduce__(self): return (os.system, (f'touch {tmp_path}/pwned',))
    ck['generator']['evil'] = Evil()
    torch.save(ck, tmp_path/'tampered.pt')
    with pytest.raises(CheckpointError, match='refused to load'): load_checkpoint(tmp_path/'tampered.pt')
    with pytest.raises(CheckpointError, match='refused to load'): load_generator(tmp_path/'tampered.pt')
    assert not (tmp_path/'pwned').exists()
    (tmp_path/'junk.pt').write_bytes(b'\x80\x04junk')
    with pytest.raises(CheckpointError, match='not a readable checkpoint'): load_checkpoint(tmp_path/'junk.pt')
    torch.save({'weights': torch.zeros(2)}, tmp_path/'foreign.pt')
    with pytest.raises(CheckpointError, match='not a sagan_seg checkpoint'): load_checkpoint(tmp_path/'foreign.pt')

def test_architecture_mismatch_is_refused(run, tmp_path):
    cfg, _, _ = run
    wider = dataclasses.replace(cfg.generator, base_width=12)
    bad = dataclasses.replace(cfg, out=str(tmp_path/'r'), resume=cfg.out, generator=wider)
    with pytest.raises(CheckpointError, match=r'generator\.base_width: 8 vs 12'): fit(bad)
    assert not (tmp_path/'r').exists()                       # nothing written for a refused run
    # a checkpoint whose stored config was edited no longer fits its weights
    ck = torch.load(Path(cfg.out)/'last.pt', weights_only=True)
    ck['config']['generator']['base_width'] = 16
    torch.save(ck, tmp_path/'edited.pt')
    with pytest.raises(CheckpointError, match='do not fit this architecture'): load_generator(tmp_path/'edited.pt')

def test_load_generator_and_evaluate(run):
    cfg, hist, _ = run
    g = load_generator(Path(cfg.out)/'best.pt')
    assert not g.training and g.class_names == ['background', 'glomeruli', 'podocyte', 'non-podocyte']
    val = SegFolder(cfg.data, crop=32, augment=False, mode='full')
    cm = evaluate(g, val)
    assert cm.shape == (4, 4) and cm.sum() == sum(val[i][1].numel() for i in range(len(val)))
    ck = load_checkpoint(Path(cfg.out)/'best.pt')
    assert ck['best_epoch'] in (1, 2) and ck['best_f1'] == max(hist.val_f1)
    from_folder = load_generator(cfg.out)                     # a run folder means its best.pt
    assert all(torch.equal(a, b) for a, b in zip(from_folder.state_dict().values(), g.state_dict().values()))

def test_nan_stops_training_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    data = tiny_dataset(tmp_path)
    real, calls = S.pixel_loss, [0]
    def sabotaged(*a, **k):
        calls[0] += 1
        l = real(*a, **k)
        return l * float('inf') if calls[0] == 5 else l
    monkeypatch.setattr(S, 'pixel_loss', sabotaged)
    out = tmp_path/'nan'
    with pytest.raises(TrainingDiverged) as e: fit(tiny_config(data, out, epochs=4))
    assert (e.value.loss, e.value.epoch, e.value.step) == ('loss_pix', 3, 5)   # 2 steps per epoch
    msg = str(e.value)
    assert 'loss_pix is inf' in msg and 'epoch 3' in msg and str(out/'last.pt') in msg
    ck = load_checkpoint(out/'last.pt')
    assert ck['epoch'] == 2 and all(torch.isfinite(v).all() for v in ck['generator'].values() if v.is_floating_point())

def test_atomic_checkpoint_write(tmp_path, monkeypatch):
    p = save_checkpoint(tmp_path/'c.pt', {'config': {}, 'generator': {'w': torch.ones(3)}, 'epoch': 1})
    def crash(obj, f, *a, **k):
        f.write(b'half a checkpoint'); raise KeyboardInterrupt
    monkeypatch.setattr(torch, 'save', crash)
    with pytest.raises(KeyboardInterrupt): save_checkpoint(p, {'config': {}, 'generator': {'w': torch.zeros(3)}, 'epoch': 2})
    monkeypatch.undo()
    assert load_checkpoint(p)['epoch'] == 1 and [f.name for f in tmp_path.iterdir()] == ['c.pt']

def test_bad_options_are_reported_before_anything_is_written(tmp_path):
    data = tiny_dataset(tmp_path)
    with pytest.raises(ConfigError, match='batch_size must be'): fit(tiny_config(data, tmp_path/'o', batch_size=0))
    with pytest.raises(ConfigError, match='crop must be a positive multiple of 4'): fit(tiny_config(data, tmp_path/'o', crop=30))
    with pytest.raises(SaganSegError): fit(tiny_config(tmp_path/'nowhere', tmp_path/'o'))
    assert not (tmp_path/'o').exists()
    (tmp_path/'file').write_text('x')
    with pytest.raises(ConfigError, match='cannot write the run folder'): fit(tiny_config(data, tmp_path/'file'/'run', epochs=1))

def test_existing_run_is_not_overwritten(run):
    cfg, _, _ = run
    with pytest.raises(ConfigError, match='already holds a run'): fit(cfg)

def test_deterministic_for_a_seed(tmp_path):
    data = tiny_dataset(tmp_path)
    a = fit(tiny_config(data, tmp_path/'a', epochs=1, seed=3))
    b = fit(tiny_config(data, tmp_path/'b', epochs=1, seed=3))
    c = fit(tiny_config(data, tmp_path/'c', epochs=1, seed=4))
    cols = ['loss_g', 'loss_d', 'val_f1']
    assert a[cols].equals(b[cols]) and not a[cols].equals(c[cols])

def test_evaluate_checkpoint_writes_the_paper_tables(run, tmp_path):
    cfg, _, _ = run
    res = evaluate_checkpoint(Path(cfg.out)/'last.pt', cfg.data, out=tmp_path/'eval', device='cpu')
    assert [f.name for f in res['files']] == ['metrics.md'] + [f'metrics_{k}.csv' for k in ('overall', 'f1', 'iou', 'precision', 'recall')]
    assert '| F1 score |' in (tmp_path/'eval'/'metrics.md').read_text()
    assert res['confusion_matrix'].sum() > load_checkpoint(cfg.out)['metrics']['confusion_matrix'].sum()  # all images vs the held-out 2
    (tmp_path/'file').write_text('x')
    with pytest.raises(ConfigError, match='cannot write the metric tables'):
        evaluate_checkpoint(cfg.out, cfg.data, out=tmp_path/'file'/'sub', device='cpu')
