"A run interrupted after half its epochs and resumed ends exactly where an uninterrupted run of the same seed ends."
import torch
import pandas as pd
from sagan_seg.fitting import fit
from sagan_seg.checkpoints import load_checkpoint
from training_utils import tiny_dataset, tiny_config, one_thread  # noqa: F401 (autouse fixture)

def _assert_state_equal(a, b, path='state'):
    if isinstance(a, torch.Tensor): assert torch.equal(a, b), path; return
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a: _assert_state_equal(a[k], b[k], f'{path}.{k}')
        return
    if isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)): _assert_state_equal(x, y, f'{path}[{i}]')
        return
    assert a == b or (a != a and b != b), f'{path}: {a!r} vs {b!r}'

def test_resume_matches_uninterrupted_run(tmp_path):
    data = tiny_dataset(tmp_path)
    straight = fit(tiny_config(data, tmp_path/'straight', epochs=4))
    first = fit(tiny_config(data, tmp_path/'killed', epochs=4, stop_after=2))
    assert len(first) == 2 and load_checkpoint(tmp_path/'killed'/'last.pt')['epoch'] == 2
    resumed = fit(tiny_config(data, tmp_path/'killed', epochs=4, resume=str(tmp_path/'killed'/'last.pt')))
    # the same loss curve and validation metrics, epoch by epoch
    pd.testing.assert_frame_equal(straight.drop(columns='seconds'), resumed.drop(columns='seconds'), check_exact=True)
    csv = pd.read_csv(tmp_path/'killed'/'history.csv')
    assert list(csv.epoch) == [1, 2, 3, 4]
    # the same final weights, optimiser states and scores
    a, b = load_checkpoint(tmp_path/'straight'/'last.pt'), load_checkpoint(tmp_path/'killed'/'last.pt')
    for k in ('generator', 'discriminator', 'opt_g', 'opt_d', 'epoch', 'step', 'best_f1', 'best_epoch'):
        _assert_state_equal(a[k], b[k], k)
    _assert_state_equal(a['metrics'], b['metrics'], 'metrics')

def test_resume_from_run_folder_without_gan(tmp_path):
    "The supervised baseline (no discriminator) resumes too, from the run folder."
    data = tiny_dataset(tmp_path)
    straight = fit(tiny_config(data, tmp_path/'a', epochs=2, gan=False))
    fit(tiny_config(data, tmp_path/'b', epochs=2, gan=False, stop_after=1))
    resumed = fit(tiny_config(data, tmp_path/'b', epochs=2, gan=False, resume=str(tmp_path/'b')))
    assert 'loss_d' not in straight.columns and load_checkpoint(tmp_path/'a')['discriminator'] is None
    pd.testing.assert_frame_equal(straight.drop(columns='seconds'), resumed.drop(columns='seconds'), check_exact=True)

def test_resume_exact_with_the_new_recipe(tmp_path):
    """The recipe options of the 10-minute demo — an EMA of G, a one-cycle schedule (warm-up, then cosine), G's own
    AdamW betas and decay, the game every 2nd step — resume exactly too: the average and the trained weights both."""
    data = tiny_dataset(tmp_path)
    kw = dict(epochs=4, ema=0.9, warmup=0.3, lr_schedule='cosine', betas_g=(0.9, 0.99), weight_decay_g=1e-4, d_every=2, r1_gamma=1.0)
    straight = fit(tiny_config(data, tmp_path/'straight', **kw))
    fit(tiny_config(data, tmp_path/'killed', stop_after=1, **kw))
    resumed = fit(tiny_config(data, tmp_path/'killed', resume=str(tmp_path/'killed'), **kw))
    pd.testing.assert_frame_equal(straight.drop(columns='seconds'), resumed.drop(columns='seconds'), check_exact=True)
    a, b = load_checkpoint(tmp_path/'straight'/'last.pt'), load_checkpoint(tmp_path/'killed'/'last.pt')
    for k in ('generator', 'generator_train', 'discriminator', 'opt_g', 'opt_d', 'step', 'best_f1'):
        _assert_state_equal(a[k], b[k], k)
    assert not all(torch.equal(a['generator'][k], v) for k, v in a['generator_train'].items())   # the average is not G
    assert straight.lr_g.iloc[0] < straight.lr_g.max() and 'loss_d' in straight     # G warmed up; the game was played
