"""Semi-supervised training end to end through the installed CLI: `tiles` without annotations, `train --unlabeled`,
the resolution contract, a bad unlabeled image, an exact resume with the unlabeled stream, and masks that are never trained on."""
import json, shutil
import pytest
import torch
from test_cli import sagan, assert_clean_error

NET = ['--crop', '32', '--batch-size', '2', '--width', '8', '--depth', '2', '--disc-width', '8', '--no-progress', '--no-calibrate']

@pytest.fixture(scope='module')
def semi(tmp_path_factory):
    from sagan_seg.slides import synth_slide
    d = tmp_path_factory.mktemp('semi')
    truth = synth_slide(d/'unannotated.tif', size=(512, 768), seed=7, mpp=0.5)
    r = sagan('tiles', truth['path'], '--out', d/'pool', '--mpp', '1.0', '--tile', '64', '--min-tissue', '0.2', '--max-tiles', '6')
    assert r.returncode == 0 and '6 unlabeled tiles' in r.stdout, (r.stdout, r.stderr)
    assert sorted(p.name for p in (d/'pool').iterdir() if p.name[0] != '.') == ['images', 'tiles.json']
    r = sagan('synth', d/'ds', '--n', '6', '--size', '64', '--seed', '3'); assert r.returncode == 0, r.stderr
    return d

def opts(d, *extra):
    return ['--data', d/'ds', '--unlabeled', d/'pool', '--mpp', '1.0', '--epochs', '2', '--steps-per-epoch', '3',
            '--pseudo', 'disc', '--pseudo-start', '0', *NET, *extra]

def test_train_unlabeled_and_resume_exactly(semi, tmp_path):
    pool = tmp_path/'pool'; shutil.copytree(semi/'pool', pool)
    o = [str(pool) if str(x) == str(semi/'pool') else x for x in opts(semi)]
    r = sagan('train', *o, '--out', tmp_path/'straight'); assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path/'straight'/'last.pt', weights_only=True)
    assert ck['config']['unlabeled'] == [str(pool)] and ck['config']['pseudo'] == 'disc'
    assert ck['extra']['unlabeled'] == dict(tiles=6, epoch=2, batch=2, folders=[str(pool)])
    head = (tmp_path/'straight'/'history.csv').read_text().splitlines()[0].split(',')
    assert {'semi_trusted', 'loss_adv_u', 'd_u'} <= set(head), head
    r = sagan('train', *o, '--out', tmp_path/'resumed', '--stop-after', '1'); assert r.returncode == 0, r.stderr
    extra = pool/'images'/'extra.png'; shutil.copy(next((pool/'images').iterdir()), extra)   # the pool changed under the stopped run
    assert_clean_error(sagan('train', *o, '--out', tmp_path/'resumed', '--resume'), 'drew unlabeled batches from 6 tiles', 'hold 7')
    extra.unlink()
    r = sagan('train', *o, '--out', tmp_path/'resumed', '--resume'); assert r.returncode == 0, r.stderr
    b = torch.load(tmp_path/'resumed'/'last.pt', weights_only=True)
    for key in ('generator', 'discriminator'):
        assert all(torch.equal(ck[key][k], b[key][k]) for k in ck[key]), key

def test_pixel_discriminator_end_to_end_and_resume_exactly(semi, tmp_path):
    "`--disc-output pixel` with two views and a bar per class: D's score map selects pixels of the plain view; the checkpoint records both, and a stopped run resumes to the same weights."
    o = opts(semi, '--disc-output', 'pixel', '--r1-gamma', '1', '--pseudo-views', 'weak_strong', '--pseudo-bar', 'class')
    r = sagan('train', *o, '--out', tmp_path/'straight'); assert r.returncode == 0, r.stderr
    ck = torch.load(tmp_path/'straight'/'last.pt', weights_only=True)
    assert ck['config']['discriminator']['output'] == 'pixel' and ck['discriminator']['linear.bias'].shape == (1,)
    assert ck['config']['pseudo_views'] == 'weak_strong' and ck['config']['pseudo_bar'] == 'class'
    assert 'semi_trusted' in (tmp_path/'straight'/'history.csv').read_text().splitlines()[0]
    r = sagan('train', *o, '--out', tmp_path/'resumed', '--stop-after', '1'); assert r.returncode == 0, r.stderr
    r = sagan('train', *o, '--out', tmp_path/'resumed', '--resume'); assert r.returncode == 0, r.stderr
    b = torch.load(tmp_path/'resumed'/'last.pt', weights_only=True)
    for key in ('generator', 'discriminator'):
        assert all(torch.equal(ck[key][k], b[key][k]) for k in ck[key]), key

def test_resolution_mismatch_refused_naming_both(semi, tmp_path):
    r = sagan('train', *opts(semi)[:5], '0.5', *opts(semi)[6:], '--out', tmp_path/'m')
    assert_clean_error(r, str(semi/'pool'), 'cut at 1 µm/px', 'at 0.5 µm/px')
    assert not (tmp_path/'m').exists()                                        # nothing left behind

def test_bad_unlabeled_image_named_in_one_line(semi, tmp_path):
    bad = tmp_path/'badpool'; shutil.copytree(semi/'pool', bad)
    (bad/'images'/'broken.png').write_bytes(b'\x89PNG\r\n\x1a\n not really')
    o = [str(bad) if str(x) == str(semi/'pool') else x for x in opts(semi)]
    r = sagan('train', *o, '--out', tmp_path/'b')
    assert_clean_error(r)
    lines = [l for l in r.stderr.splitlines() if 'broken.png' in l]
    assert len(lines) == 1 and 'cannot read image' in lines[0], r.stderr
    assert not (tmp_path/'b').exists()

def test_bad_semi_options(semi, tmp_path):
    assert_clean_error(sagan('train', '--data', semi/'ds', '--out', tmp_path/'x', '--pseudo', 'disc', *NET), 'needs unlabeled folders')
    assert_clean_error(sagan('train', *opts(semi), '--no-gan', '--out', tmp_path/'y'), "pseudo='disc' needs the discriminator")
    assert_clean_error(sagan('train', *opts(semi), '--pseudo-rank', '1.5', '--out', tmp_path/'z'), 'pseudo_rank must be in [0, 1]')
    assert_clean_error(sagan('train', *opts(semi), '--pseudo-bar', 'class', '--out', tmp_path/'c'), "pseudo_bar='class' needs a pixel discriminator")
    assert_clean_error(sagan('tiles', semi/'unannotated.tif', '--out', tmp_path/'t', '--background', '3'), '--background, --map and --classes need --annotations')

def test_masks_in_an_unlabeled_folder_are_never_trained_on(tmp_path):
    "A pool with masks/ (kept to score pseudo-labels) trains bit-identically to the same pool without them; only the logs differ."
    from sagan_seg.synth import write_synthetic_dataset
    from sagan_seg.fitting import fit
    from sagan_seg.training import TrainConfig
    from sagan_seg.generator import GeneratorConfig
    from sagan_seg.discriminator import DiscriminatorConfig
    ds, pool = write_synthetic_dataset(tmp_path/'ds', n=4, size=64, seed=1), write_synthetic_dataset(tmp_path/'pool', n=4, size=64, seed=2)
    bare = tmp_path/'bare'; shutil.copytree(pool/'images', bare/'images')
    cfg = dict(data=str(ds), epochs=2, steps_per_epoch=2, batch_size=2, crop=32, progress=False, calibrate=False, pseudo='both',
               pseudo_start=0.0, pseudo_confidence=0.3, generator=GeneratorConfig(base_width=8, depth=2, attn_levels=(), norm='group'),
               discriminator=DiscriminatorConfig(base_width=8, depth=2, attn_level=None))
    h1 = fit(TrainConfig(**cfg, out=str(tmp_path/'r1'), unlabeled=[str(pool)]))
    h2 = fit(TrainConfig(**cfg, out=str(tmp_path/'r2'), unlabeled=[str(bare)]))
    a, b = (torch.load(tmp_path/r/'last.pt', weights_only=True)['generator'] for r in ('r1', 'r2'))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert 'semi_acc_all' in h1 and 'semi_acc_all' not in h2 and list(h1.semi_trusted) == list(h2.semi_trusted)
