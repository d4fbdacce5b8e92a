"""Does the discriminator earn its place on unlabeled tiles? Semi-supervised training at 1/8 and 1/4 (and 1/32) of the demo's labels, with its controls, one run per call.

    .venv/bin/python benchmarks/semi_supervised.py --cond semi --frac 8 --seed 0     # one run -> runs/semi/semi_f8_s0/
    .venv/bin/python benchmarks/semi_supervised.py --judge      # D as a judge of G's pixels on the pool, per finished run (cached)
    .venv/bin/python benchmarks/semi_supervised.py --time       # seconds per step of each condition, measured alone
    .venv/bin/python benchmarks/semi_supervised.py --collect                          # every finished run -> results/semi_supervised.{md,csv}

The demo's synthetic splits (`make_splits(seed)`: 256 / 8 / 32 tiles of 256 px at 0.5 µm/px) and model (`DEMO_MODEL`).
For a labeled fraction 1/F, a permutation seeded by the run seed keeps the first 256/F training tiles with their masks
(the 1/8 set lies inside the 1/4 set); the unlabeled pool is the other training tiles with their masks set aside (kept
beside the images only to score the pseudo-labels, never trained on: `semi.UnlabeledFolder`), plus the tissue tiles of
two generated slides cut by `tiles.write_unlabeled_tiles` at the same 0.5 µm/px (no truth). Conditions:

- `sup`  (a): the demo's SAGAN on the labeled fraction only;
- `self` (b): (a) plus self-training on the pool's confident pixels (`pseudo='softmax'`, top probability >= 0.9); D
  plays only the labeled game as in (a) and has no say on unlabeled tiles (`lambda_adv_u=0`): the control that tells
  whether D adds anything;
- `semi` (c): (a) plus D on the pool: the adversarial term on unlabeled predictions (`lambda_adv_u=0.01`, as on
  labeled ones) and self-training on the tiles D scores at least as real as the median labeled pair (`pseudo='disc'`);
- `all`  (d): the demo's SAGAN on all 256 labeled tiles;
- `sup2x`: (a) at twice the steps, about the minutes (b) and (c) take (equal time, not equal steps);
- `all2x`: (d) at twice the steps, run last: paired with `sup2x`, what masks on the whole pool would add at the minutes
  (b) and (c) take: in practice a ceiling on what pseudo-labels on the pool could add at equal time;
- `adv`: (a) plus D's adversarial term on the pool, no pseudo-labels (which half of (c) does the work);
- `semi_r0`: (c) with the bar lowered to D's least real labeled pair (`pseudo_rank=0`), added after (c) was measured
  to trust a few percent of the pool: a test of whether that share is what holds (c) back, not a tuned setting;
- `both`: (c) keeping only the confident pixels of the tiles D trusts (defined; not in the reported runs);
- `semi_pix` (c, per pixel): (c) with a fully convolutional D (`DiscriminatorConfig(output='pixel')`, Hung et al. 2018's
  confidence map): the same game and rank rule, applied to D's score map upsampled to the tile, so that D can trust part
  of a tile. Added after (c) trusted ~3 % of the pool, which tile-level selection cannot refine. Which of the two is
  (c) is chosen on validation (the paired validation difference over seeds), not on test;
- `sup_pix`: (a) with the same pixel D on the labeled game only: tells the pixel D's effect from the pool's;
- `semi_pix_st`: `semi_pix` with D shown G's argmax (`fake_mode='straight_through'`, the softmax's
  gradient) instead of its softmax. A real map is a (softened) one-hot map, so a D shown the softmax can tell G's
  pairs by how peaked their probabilities are, whatever their shapes; shown the argmax, it has only the shapes to go
  on, and the argmax is what becomes the pseudo-label. Added after `semi_pix` trusted a few percent of the pool.
- `fix_self`, `fix_semi`: (b) and (c) with two views (`pseudo_views='weak_strong'`): pseudo-labels chosen on the tile
  without colour jitter, learnt on a strongly jittered copy of the same pixels. Added after `judge` (below) showed the
  single-view pseudo-labels to be G's already-right pixels: a target taken from the view it trains on carries nothing
  the prediction lacked, while a target from another view asks G to agree with itself across colourings. (c) keeps
  the D variant validation chose (`semi_pix` over `semi`); (b) is the control without D, as before.
- `semi_pix_cls`: `semi_pix` with a bar per class (`pseudo_bar='class'`): a pixel G calls class k is trusted when D
  scores it at least as real as the median real pixel of class k. Added after `--judge` on the other cohort showed one
  bar passing mostly glomerular pixels, where G's mistakes are. It joins the variants validation chooses (c) from.

Replication (fixed before any of its runs, after the 3-seed result above was seen): seeds 3, 4 and 5, no more whatever
they show, for `sup`, `self`, `all` and the variant validation chooses as (c) over seeds 0-2 (`semi_supervised_choice.csv`).
The 3-seed tables and the choice of (c) read seeds 0-2 only (`PRIMARY`); `semi_supervised_replication.csv` gives the
same paired differences on seeds 3-5 alone (a test the 3-seed result could not influence) and on all six (reported,
but not a clean test: the decision to add seeds followed the first result).

Longer runs (fixed before any of their runs, after the replication above): at 600 steps every run is still learning
(validation macro F1 at 1/8: `sup` 0.91, `sup2x` 0.93) and the spread between seeds is as large as the effects
sought, so a null there may be a lack of power. At 1/8, (c) as validation chose it (`semi_pix`) and its controls run
at 1200 steps: `semi_pix2x` against `sup2x` (equal steps) on seeds 0-5 (the test: the six-seed paired difference; no
more seeds whatever it shows), and on seeds 0-2 `self2x` ((b) at 1200 steps: does D add anything) and `sup4x` ((a) at
2400 steps, about `semi_pix2x`'s minutes: equal time), then `all2x` on seeds 3-5 ((d) beside the test's six seeds).
Run in that order; a run that does not finish is reported as not run. `semi_supervised_long.csv` has their paired differences.

A share, not a level (fixed before any of its runs, after the longer runs): the bar of (c) is set by D's scores on real
pairs, so once D tells G's maps from real ones it trusts nothing (at 1200 steps 0.2 % of the pool by the end). With
`pseudo_bar='share'` the pool's pixels are ranked against each other: the top half by D's score (`pseudo_rank=0.5`,
fixed, not tuned) are pseudo-labels however the game stands. At 1/8 and 600 steps:
- `semi_q`: `semi_pix` with the share bar;
- `semi_q0`: `semi_q` without D's adversarial term on the pool (`lambda_adv_u=0`; D still learns the pool's maps as
  fake, so it still ranks them): whether pushing G on the pool is what hurts it late;
- `self_q`: (b) with the same share bar on G's own top probability, no D on the pool: at the same share, does D's
  ranking beat G's confidence (the control that tells D's judgement from more pseudo-labels).
Validation chooses `semi_q` or `semi_q0` over seeds 0-2 (mean validation macro F1) as (c, share); it then runs on seeds
3-5, as `self_q` does. The test: (c, share) - `sup` on seeds 0-5 (the sup runs above), no more seeds whatever it shows;
beside it (c, share) - `self_q`, `self_q` - `sup` and `all` - (c, share) on seeds 0-5, and (c, share) - `sup2x` (equal
time). Order: `semi_q` and `semi_q0` on seeds 0-2, `self_q` on 0-2, (c, share) on 3-5, `self_q` on 3-5.
`semi_supervised_share_choice.csv` has the choice, `semi_supervised_share.csv` the paired differences.

A share per class (fixed before its runs, after `semi_q` and `semi_q0` on seed 0 had run): their top half by D's score
was less often right than G's argmax on the whole pool (D scores glomeruli high, and G's commonest mistakes are
glomerular), and G degraded once they started. `semi_qc` is `semi_q` with `pseudo_bar='class_share'`: the top half of
each class G predicts, by D's score, so that D ranks within a class (where `--judge` found it a better judge than G's
confidence) and not across classes. It runs on seeds 0-2 after the runs above, read against `sup` and `semi_pix` on
seeds 0-2 (its paired differences in `semi_supervised_pairs.csv`); it joins no choice made above, and its seeds 3-5 run
only if its mean validation macro F1 over seeds 0-2 is above `semi_pix`'s (the (c) validation chose), and time allows.

Why the longer runs fall late (fixed before its runs, after the longer runs): `semi_pix2x`'s validation macro F1 falls
from step 800 to 1200 (mean over seeds 0-2) where `sup2x`'s holds. Either D's adversarial term on the pool destabilises
G, or the late game loses the pseudo-labels. `adv2x` is `adv` (the pool's adversarial term, no pseudo-labels) at 1200
steps on seeds 0-2, after `semi_qc`: if its late fall (validation at step 800 minus at 1200) is as large as
`semi_pix2x`'s, the adversarial term is enough to cause it; if it is as small as `sup2x`'s, it is not. Its paired test
differences against `sup2x` and `semi_pix2x` join `semi_supervised_long.csv`.

Feature matching (fixed before any of its runs, after `adv2x`): every (c) above asked D either to pick targets or to
push G's pool predictions pixel by pixel with its score, and D's score turned out to rank G's pixels no better than G
does. s4GAN's generator loss on unlabeled images is neither: feature matching (`lambda_fm_u`, `28_semi`) asks G's pairs
on the pool to match real pairs in D's features on average over the batch; Mittal et al. 2019 report it as the part of
s4GAN that carries most of its gain. Its weight is s4GAN's 0.1, not tuned. At 1/8 and 600 steps:
- `semi_fm`: s4GAN with our image-level D: feature matching on the pool in place of the pool's adversarial term
  (`lambda_adv_u=0`), plus self-training on the tiles D trusts (`semi`'s rule, for s4GAN's threshold on D's sigmoid);
  the labeled game stays as in (a), so that the pair with (a) differs by the pool's terms only;
- `fm`: feature matching on the pool alone, no pseudo-labels: which half of `semi_fm` does the work.
Validation chooses `semi_fm` or `fm` over seeds 0-2 (mean validation macro F1) as (c, fm); it then runs on seeds 3-5.
The test: (c, fm) - `sup` on seeds 0-5 (the sup runs above), no more seeds whatever it shows; beside it, on seeds 0-5,
(c, fm) - `self` (does D add anything), `all` - (c, fm) and (c, fm) - `sup2x` (equal time), and on seeds 0-2 `fm` - `adv`
(feature matching against the hinge term as the pool's only D signal). Order: `semi_fm` and `fm` on seeds 0-2, then
(c, fm) on 3-5. `semi_supervised_fm_choice.csv` has the choice, `semi_supervised_fm.csv` the paired differences.

Features D never learnt (fixed before its runs, after `semi_fm` and `fm` had run on seeds 0 and 1): should `fm` gain,
is it D's learning that pays, or matching G's pool maps to real ones through any features? `fm_rand` is `fm` with
`fm_judge='random'`: the same term through D's architecture at a seeded initialisation, never trained. It runs after
(c, fm)'s seeds 3-5, on the seeds `fm` has run (0-5 if validation chose `fm`, else 0-2); `fm` - `fm_rand` and
`fm_rand` - `sup` on those seeds join `semi_supervised_fm.csv`.

Feature matching's weight, chosen on validation (fixed before its runs, after `fm`'s six seeds and `fm_rand` on seed
0): s4GAN's 0.1 was set for its own loss scale; here the term's value is far below the pixel loss's all run long
(`history.csv`), so the weight may be what keeps it from acting. `fm_w1` and `fm_w10` are `fm` at weights 1 and 10,
on seeds 0-2. Validation chooses among `fm`, `fm_w1` and `fm_w10` (mean validation macro F1 over seeds 0-2); a new
weight, if chosen, then runs on seeds 3-5 and its test is (chosen) - `sup` on seeds 0-5, beside (chosen) - `fm` and
(chosen) - `sup2x` on seeds 0-5. If validation keeps 0.1, `fm`'s test above stands and nothing more runs.
`semi_supervised_fmw_choice.csv` has the choice; its differences join `semi_supervised_fm.csv`.

The pool in D's game only (fixed before its runs, after `fm_rand` on seed 0 gained as `fm` did): with the pool, D
also learns G's unlabeled maps as fake, which changes the labeled adversarial term G gets, whatever G's pool terms.
`pool_d` is `fm` at weight 0: the pool in D's game, no term of G's on it. It runs on seeds 0-2 after the runs above;
`fm` - `pool_d` and `pool_d` - `sup` on seeds 0-2 join `semi_supervised_fm.csv`: if `pool_d` gains as `fm` does, the
gain is D's game, not feature matching. Amended before any `pool_d` run (after `fm_w1`, `fm_w10` and `fm_rand` on
seeds 0-2): `pool_d` runs on seeds 3-5 too, after 0-2, so that `fm` - `pool_d` and `pool_d` - `sup` read six seeds.

A replication of `fm` on new seeds (fixed before any of its runs, after every run above): `fm` - `sup` over seeds 0-5
was positive on five of six seeds but within 2 SE, and the tests above allow no more seeds. `sup` and `fm` run on
seeds 6-11, which no run has touched, in the order `sup` 6, `fm` 6, `sup` 7, `fm` 7, ...; the test is `fm` - `sup`
on seeds 6-11 alone (n=6), no more seeds whatever it shows, beside `all` - `fm` on the same seeds (`all` runs on
seeds 6-11 after every `sup` and `fm` run there; amended before any run on seeds 6-11). Seeds 0-11
together are reported too, but they are not a clean test. Both join `semi_supervised_fm.csv`.

Where labels are scarcest (fixed before any of its runs, after the replication above): at 1/8 the criterion asks a
gain of most of the gap from (a) to (d); at 1/32 (eight labeled tiles) that gap is several times wider. `fm`, at
s4GAN's weight and with nothing chosen on validation (no other variant runs), runs at 1/32 on seeds 0-5, with `sup`
at 1/32 on seeds 3-5 (it ran on 0-2), in the order `fm` 0, 1, 2, then `sup` 3, `fm` 3, `sup` 4, `fm` 4, `sup` 5, `fm`
5. The test is `fm` - `sup` at 1/32 over seeds 0-5, no more seeds whatever it shows, beside `all` - `fm` on the same
seeds -> `semi_supervised_fm32.csv`. It does not bear on issue 23's criterion (stated at 1/8); it asks whether feature
matching earns its place where labels are fewest.

Every run takes the same number of generator steps (`--steps`, 6 validation points spread over it), with the
unlabeled batch as large as the labeled one; pseudo-labels start after 30 % of the run. The weights and thresholds
are the literature's (Hung et al. 2018: lambda_semi_adv 0.001-0.01; s4GAN: whole images by D's score, self-training
weight 1) and the confidence 0.9 of plain self-training: fixed before any run, not tuned on these splits. Validation
picks each run's checkpoint; the test split is read once per run. Runs are independent processes (two share the 2 cores).
"""
import argparse, json, math, shutil, sys, time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from _common import write_results, load_avg, machine_line

HERE = Path(__file__).parent
RESULTS = HERE / 'results'
MPP = 0.5                     # the synthetic tiles' and slides' µm/px

# condition -> (TrainConfig overrides, uses the pool, what it is)
CONDITIONS = {
    'sup':  (dict(), False, '(a) supervised on the labeled fraction only'),
    'self': (dict(pseudo='softmax', pseudo_confidence=0.9, lambda_adv_u=0.0), True, "(b) + self-training on confident pixels, no D on unlabeled tiles"),
    'semi': (dict(pseudo='disc', pseudo_rank=0.5, lambda_adv_u=0.01), True, '(c) + D on unlabeled tiles: adversarial term and D-selected pseudo-labels'),
    'both': (dict(pseudo='both', pseudo_rank=0.5, pseudo_confidence=0.9, lambda_adv_u=0.01), True, "(c') as (c), keeping only the confident pixels of the tiles D trusts"),
    'semi_r0': (dict(pseudo='disc', pseudo_rank=0.0, lambda_adv_u=0.01), True, "(c) with the bar at D's least real labeled pair (rank 0): run after (c) trusted ~3 % of pixels, to test whether that share is what holds it back"),
    'adv':  (dict(lambda_adv_u=0.01), True, "(c'') D's adversarial term on unlabeled tiles only, no pseudo-labels"),
    'all':  (dict(), False, '(d) supervised on all labeled tiles'),
    'semi_pix': (dict(pseudo='disc', pseudo_rank=0.5, lambda_adv_u=0.01, disc=dict(output='pixel')), True, "(c) with a pixel D: D's score map (Hung et al.) selects pixels, not tiles"),
    'sup_pix': (dict(disc=dict(output='pixel')), False, '(a) with the pixel D (labeled game only): the pixel D without the pool'),
    'semi_pix_st': (dict(pseudo='disc', pseudo_rank=0.5, lambda_adv_u=0.01, disc=dict(output='pixel', fake_mode='straight_through')), True,
                    "(c) with a pixel D that sees G's argmax (straight-through), not its softmax: D judges the pseudo-label itself, not how peaked G's probabilities are"),
    'fix_self': (dict(pseudo='softmax', pseudo_confidence=0.9, lambda_adv_u=0.0, pseudo_views='weak_strong'), True,
                 "(b) with two views: targets from G on the tile without colour jitter, trained on a strongly jittered copy (FixMatch's consistency)"),
    'fix_semi': (dict(pseudo='disc', pseudo_rank=0.5, lambda_adv_u=0.01, disc=dict(output='pixel'), pseudo_views='weak_strong'), True,
                 "(c) with two views: the pixel D (chosen over the image-level one on validation) judges G's prediction on the plain tile; G learns it on the jittered copy"),
    'sup2x': (dict(), False, "(a) at twice the steps: about the minutes of (b) and (c), whose steps cost about twice (a)'s"),
    'all2x': (dict(), False, "(d) at twice the steps: against `sup2x`, what labels on the whole pool give at (c)'s minutes (the most any pseudo-label could)"),
    'semi_pix_cls': (dict(pseudo='disc', pseudo_rank=0.5, lambda_adv_u=0.01, disc=dict(output='pixel'), pseudo_bar='class'), True,
                     "(c) with the pixel D and a bar per class: a pixel G calls class k passes at the median of D's scores on real pixels of class k"),
}
CONDITIONS.update({       # the longer runs (docstring): the same settings at twice (four times) the steps
    'semi_pix2x': (CONDITIONS['semi_pix'][0], True, '`semi_pix` at twice the steps (1200): (c) where the runs have learnt more'),
    'self2x': (CONDITIONS['self'][0], True, '`self` at twice the steps: (b) beside `semi_pix2x`'),
    'sup4x': (dict(), False, "(a) at four times the steps: about `semi_pix2x`'s minutes (equal time)"),
    'adv2x': (CONDITIONS['adv'][0], True, "`adv` at twice the steps: the pool's adversarial term without pseudo-labels, beside `semi_pix2x`"),
})
CONDITIONS.update({       # a share, not a level (docstring)
    'semi_q': (dict(CONDITIONS['semi_pix'][0], pseudo_bar='share'), True, "`semi_pix` with the share bar: the top half of the pool's pixels by D's score, however the game stands"),
    'semi_q0': (dict(CONDITIONS['semi_pix'][0], pseudo_bar='share', lambda_adv_u=0.0), True, "`semi_q` without D's adversarial term on the pool: D ranks the pool's maps, never pushes G on them"),
    'self_q': (dict(CONDITIONS['self'][0], pseudo_bar='share', pseudo_rank=0.5), True, "(b) with the share bar: the top half of the pool's pixels by G's own top probability (the same share as `semi_q`, no D)"),
    'semi_qc': (dict(CONDITIONS['semi_pix'][0], pseudo_bar='class_share'), True, "`semi_q` ranked per predicted class: the top half of each class G predicts on the pool, by D's score"),
})
CONDITIONS.update({       # feature matching (docstring)
    'semi_fm': (dict(pseudo='disc', pseudo_rank=0.5, lambda_adv_u=0.0, lambda_fm_u=0.1), True,
                "s4GAN with the image-level D: feature matching on the pool in place of its adversarial term, and self-training on the tiles D trusts"),
    'fm': (dict(lambda_adv_u=0.0, lambda_fm_u=0.1), True, "feature matching on the pool alone (s4GAN's generator term), no pseudo-labels"),
    'fm_w1': (dict(lambda_adv_u=0.0, lambda_fm_u=1.0), True, "`fm` at weight 1 (s4GAN's 0.1 times 10)"),
    'fm_w10': (dict(lambda_adv_u=0.0, lambda_fm_u=10.0), True, "`fm` at weight 10 (s4GAN's 0.1 times 100)"),
    'pool_d': (dict(lambda_adv_u=0.0), True, "the pool in D's game only (D learns G's unlabeled maps as fake), no term of G's on it: `fm` at weight 0"),
    'fm_rand': (dict(lambda_adv_u=0.0, lambda_fm_u=0.1, fm_judge='random'), True, "`fm` through a never-trained copy of D's architecture: matching without D's learning (a control)"),
})
FM_VARIANTS = ('semi_fm', 'fm')          # validation picks (c, fm) among them on PRIMARY
FM_WEIGHTS = ('fm', 'fm_w1', 'fm_w10')    # then feature matching's weight, on PRIMARY
SHARE_VARIANTS = ('semi_q', 'semi_q0')   # validation picks (c, share) among them on PRIMARY
C_VARIANTS = ('semi', 'semi_pix', 'semi_pix_st', 'fix_semi', 'semi_pix_cls')   # the discriminator-driven runs: validation picks which one is (c)
ALL_LABELS = ('all', 'all2x')   # runs on every labeled tile: frac 1, one run per seed, paired with every fraction
STEPS_MULT = {'sup2x': 2, 'all2x': 2, 'semi_pix2x': 2, 'self2x': 2, 'sup4x': 4, 'adv2x': 2}     # sup2x, all2x, sup4x: equal time with (b) and (c); the rest: the longer runs
PRIMARY, REPLICATION = (0, 1, 2), (3, 4, 5)   # the tables and the choice of (c) read PRIMARY; REPLICATION is fixed in advance (above)
FRESH = tuple(range(6, 12))                   # `fm`'s replication on seeds no run had touched (above)
LONG = dict(semi_pix2x=range(6), sup2x=range(6), self2x=range(3), sup4x=range(3), all2x=range(6), adv2x=range(3))   # the longer runs' seeds, fixed in advance (above)


def _link(src: Path, dst: Path):
    dst.parent.mkdir(parents=True, exist_ok=True)
    if not dst.exists(): dst.hardlink_to(src)


def prepare(root: Path, seed: int, frac: int) -> dict:
    "The run's folders (cached): labeled fraction, its pool (masks kept for scoring only), generated slides' tiles, validation, test."
    from sagan_seg.demo import make_splits
    from sagan_seg.training import derive_seed
    splits = make_splits(root / f'data_s{seed}', seed=seed)
    out = dict(val=splits['val'], test=splits['test'], all=splits['train'])
    stems = sorted(p.stem for p in (splits['train'] / 'images').glob('*.png'))
    perm = np.random.default_rng(derive_seed(seed, 'labeled') % 2**32).permutation(stems)
    n = len(stems) // frac
    lab, pool = root / f'data_s{seed}' / f'lab{frac}', root / f'data_s{seed}' / f'pool{frac}'
    for d, chosen in ((lab, perm[:n]), (pool, perm[n:])):
        for s in chosen:
            for sub in ('images', 'masks'): _link(splits['train'] / sub / f'{s}.png', d / sub / f'{s}.png')
        if (splits['train'] / 'classes.csv').is_file(): shutil.copy(splits['train'] / 'classes.csv', d / 'classes.csv')
        (d / 'tiles.json').write_text(json.dumps(dict(mpp=MPP, tile=256, note='synthetic tiles, drawn at 0.5 µm/px')))
    out.update(lab=lab, pool=pool, slides=slide_pool(root / f'data_s{seed}' / 'slides', seed))
    return out


def slide_pool(d: Path, seed: int) -> Path:
    "Unlabeled tissue tiles of two generated slides, cut at the labeled tiles' µm/px (cached)."
    from sagan_seg.slides import synth_slide
    from sagan_seg.tiles import write_unlabeled_tiles
    if (d / 'tiles.json').is_file() and not (d / 'UNFINISHED.json').exists(): return d
    for k in range(2):
        t = synth_slide(d.parent / f'slide{k}.tif', size=(1024, 1536), seed=20_000 + 10 * seed + k, mpp=MPP)
        write_unlabeled_tiles(t['path'], d, mpp=MPP, tile=256, min_tissue=0.2)
    return d


def one_run(root: Path, cond: str, frac: int, seed: int, steps: int, evals: int) -> dict:
    from sagan_seg.demo import demo_config, score_test_split, headline
    from sagan_seg.fitting import fit
    from sagan_seg.checkpoints import load_generator
    tr, uses_pool, _ = CONDITIONS[cond]
    steps *= STEPS_MULT.get(cond, 1)
    f = prepare(root, seed, frac)
    every = cond in ALL_LABELS
    out = root / (f'{cond}_s{seed}' if every else f'{cond}_f{frac}_s{seed}')
    data = f['all'] if every else f['lab']
    pool = dict(unlabeled=[str(f['pool']), str(f['slides'])], pseudo_start=0.3) if uses_pool else {}
    cfg = demo_config(data, f['val'], out, seed, epochs=evals, steps_per_epoch=math.ceil(steps / evals), progress=False,
                      layout='channels_last', amp='none', mpp=MPP, **pool, **tr)
    t0 = time.time()
    hist = fit(cfg)
    G = load_generator(out / 'best.pt')
    row = dict(cond=cond, frac=1 if every else frac, seed=seed, steps=int(hist.step.iloc[-1]), minutes=round((time.time() - t0) / 60, 2),
               s_per_step=round(float(hist.seconds.sum() / hist.step.iloc[-1]), 4), best_epoch=int(hist.val_f1.idxmax()) + 1,
               val_macro_f1=round(float(hist.val_f1.max()), 4), labeled_tiles=len(list((Path(data) / 'images').glob('*.png'))))
    h = headline(score_test_split(G, f['test'])[0])           # the test split: read once, by the checkpoint validation chose
    row.update({k: round(float(h[k]), 4) for k in ('macro_f1', 'f1_podocyte', 'f1_non_podocyte', 'f1_glomeruli')})
    for k in ('semi_trusted', 'semi_pseudo_acc', 'semi_pseudo_acc_fg', 'semi_acc_all'):
        if k in hist: row[f'last_{k}'] = round(float(hist[k].iloc[-1]), 4)
    keep = [c for c in ('epoch', 'step', 'seconds', 'val_f1', 'semi_trusted', 'semi_pseudo_acc', 'semi_pseudo_acc_fg', 'semi_acc_all', 'd_u', 'd_real') if c in hist]
    hist[keep].assign(cond=cond, frac=row['frac'], seed=seed).to_csv(out / 'curve.csv', index=False)
    (out / 'test.json').write_text(json.dumps(row, indent=1))
    return row


def crops(t: Tensor, crop: int) -> Tensor:
    "A tile (..., H, W) cut into its non-overlapping `crop`-px crops, stacked (N, ..., crop, crop): the pool as training crops it."
    return torch.stack([t[..., i:i + crop, j:j + crop] for i in range(0, t.shape[-2] - crop + 1, crop) for j in range(0, t.shape[-1] - crop + 1, crop)])


def class_bars(real: np.ndarray, truth: np.ndarray, rank: float, n_classes: int) -> np.ndarray:
    "`pseudo_bar='class'` per pixel: the `rank` quantile of D's scores on real pixels of each class (all real pixels' for a class with none)."
    return np.array([np.quantile(real[truth == k] if (truth == k).any() else real, rank) for k in range(n_classes)])


@torch.no_grad()
def judge(run: Path, pool: Path, crop: int = 64) -> dict:
    """Is D's score a judge of correctness, or of G's confidence? At the end of a run (its `last.pt`, the G and D that
    selected the last pseudo-labels), on the labeled part of the pool (masks set aside during training, used here only to
    score): every tile cut into `crop`-px crops as in training, G's argmax and top probability per pixel, D's score per
    pixel (a pixel D's map, upsampled as `pseudo_labels` does; an image D's crop score at each of its pixels). Reports how
    well each separates right from wrong pixels (ROC AUC, 0.5 = no better than chance), over all pixels and over those
    whose truth is not background, and the share trusted at the run's rank bar (per class, for a run with a bar per class)
    with its accuracy; of the trusted pixels that are wrong on non-background truth, the share G called background."""
    import torch.nn.functional as F
    from sklearn.metrics import roc_auc_score
    from sagan_seg.checkpoints import load_checkpoint, generator_from_checkpoint, load_state
    from sagan_seg.discriminator import Discriminator
    from sagan_seg.data import read_image, read_mask
    from sagan_seg.core import image_to_tensor
    ck = load_checkpoint(run / 'last.pt')
    G = generator_from_checkpoint(ck).eval()
    D = Discriminator.from_config(ck['config']['discriminator']); load_state(D, ck['discriminator'], 'discriminator'); D.eval()
    conf, right, dsc, truth, dreal, pred, dreal_px = [], [], [], [], [], [], []
    for ip in sorted((pool / 'images').glob('*.png')):
        x, y = image_to_tensor(read_image(ip)), torch.from_numpy(read_mask(pool / 'masks' / ip.name).astype(np.int64))
        xs, ys = crops(x, crop), crops(y, crop)
        logits = G(xs).float()
        p, lab = logits.softmax(1).max(1)
        s = D(xs, D.fake_map(logits)).float()
        sr = D(xs, D.real_map(ys)).float()
        s = F.interpolate(s[:, None], size=(crop, crop), mode='bilinear', align_corners=False)[:, 0] if s.ndim == 3 else s[:, None, None].expand_as(p)
        up = F.interpolate(sr[:, None], size=(crop, crop), mode='bilinear', align_corners=False)[:, 0] if sr.ndim == 3 else sr[:, None, None].expand_as(p)
        conf.append(p.flatten()); right.append((lab == ys).flatten()); dsc.append(s.flatten()); truth.append(ys.flatten()); dreal.append(sr.flatten())
        pred.append(lab.flatten()); dreal_px.append(up.flatten())
    conf, right, dsc, truth, dreal, pred, dreal_px = (torch.cat(v).numpy() for v in (conf, right, dsc, truth, dreal, pred, dreal_px))
    rank = ck['config'].get('pseudo_rank', 0.5)
    bar = np.quantile(dreal, rank)
    if ck['config'].get('pseudo_bar', 'all') == 'class':                 # each pixel held to its predicted class's bar (real pixels of that class)
        bar = class_bars(dreal_px, truth, rank, ck['config']['generator']['n_classes'])[pred]
    out = dict(pixels=len(right), acc_all=float(right.mean()))
    for name, sel in (('all', np.ones_like(right)), ('fg', truth > 0)):
        r = right[sel]
        out[f'auc_d_{name}'] = float(roc_auc_score(r, dsc[sel])) if 0 < r.mean() < 1 else float('nan')
        out[f'auc_conf_{name}'] = float(roc_auc_score(r, conf[sel])) if 0 < r.mean() < 1 else float('nan')
    t = dsc >= bar
    out.update(trusted=float(t.mean()), trusted_acc=float(right[t].mean()) if t.any() else float('nan'),
               trusted_acc_fg=float(right[t & (truth > 0)].mean()) if (t & (truth > 0)).any() else float('nan'),
               corr_d_conf=float(np.corrcoef(dsc, conf)[0, 1]))
    wrong = t & (truth > 0) & (pred != truth)                            # trusted pseudo-labels that are wrong on non-background truth:
    out['trusted_fg_wrong_as_bg'] = float((pred[wrong] == 0).mean()) if wrong.any() else float('nan')   # the share called background
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def judge_all(root: Path) -> pd.DataFrame:
    "`judge` (seeded by the run's seed) for every finished run that played D on the pool, at 1/8 of the labels -> results/semi_supervised_judge.csv (cached per run)."
    rows = []
    for cond in C_VARIANTS:
        for run in sorted(root.glob(f'{cond}_f8_s*')):
            if not (run / 'test.json').is_file(): continue
            seed, cache = int(run.name.rsplit('_s', 1)[1]), run / 'judge.json'
            if seed not in PRIMARY: continue                  # the judge table, as the others, reads seeds 0-2
            torch.manual_seed(seed)                           # real maps are softened at random, as in training
            if not cache.is_file(): cache.write_text(json.dumps(judge(run, root / f'data_s{seed}' / 'pool8')))
            rows.append(dict(cond=cond, seed=seed, **json.loads(cache.read_text())))
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows); df.to_csv(RESULTS / 'semi_supervised_judge.csv', index=False)
    return df


def step_times(root: Path, conds=('sup', 'semi', 'semi_pix', 'fix_self', 'fix_semi', 'fm'), short: int = 20, long: int = 80) -> pd.DataFrame:
    """Seconds per generator step of each condition, measured one after another in this process with nothing else running
    (run it alone): a run of `long` steps minus a run of `short`, over their difference, so that start-up and the one
    validation pass cancel. -> results/semi_supervised_time.csv (what equal time means for `sup2x`, against (c) and `fm`)."""
    from sagan_seg.demo import demo_config
    from sagan_seg.fitting import fit
    f, rows = prepare(root, 0, 8), []
    for cond in conds:
        tr, uses_pool, _ = CONDITIONS[cond]
        pool = dict(unlabeled=[str(f['pool']), str(f['slides'])], pseudo_start=0.0) if uses_pool else {}
        t = {}
        for n in (short, long):
            cfg = demo_config(f['lab'], f['val'], root / 'timing' / f'{cond}_{n}', 0, epochs=1, steps_per_epoch=n, progress=False,
                              layout='channels_last', amp='none', mpp=MPP, calibrate=False, **pool, **tr)
            t0 = time.perf_counter(); fit(cfg); t[n] = time.perf_counter() - t0
        rows.append(dict(cond=cond, s_per_step=round((t[long] - t[short]) / (long - short), 4)))
        print(rows[-1], flush=True)
    df = pd.DataFrame(rows).assign(ratio_to_sup=lambda d: (d.s_per_step / d.s_per_step[d.cond == 'sup'].iloc[0]).round(2))
    df.to_csv(RESULTS / 'semi_supervised_time.csv', index=False)
    return df


def paired(df: pd.DataFrame, a: str, b: str, col: str, frac: int) -> dict:
    "Mean and standard error over seeds of `col`(a) - `col`(b) at labeled fraction 1/`frac` (all-label runs pair with every fraction)."
    pick = lambda c: df[(df.cond == c) & ((df.frac == frac) | (c in ALL_LABELS))].set_index('seed')[col]
    d = (pick(a) - pick(b)).dropna()
    se = d.std(ddof=1) / len(d) ** 0.5 if len(d) > 1 else float('nan')
    return dict(comparison=f'{a} - {b}', frac=f'1/{frac}', metric='test' if col == 'macro_f1' else 'validation', seeds=len(d), mean=round(d.mean(), 4), se=round(se, 4),
                beyond_2se=bool(len(d) > 1 and abs(d.mean()) > 2 * se), positive=int((d > 0).sum()))


SEED_SETS = {'seeds 0-2': PRIMARY, 'seeds 3-5': REPLICATION, 'seeds 0-5': PRIMARY + REPLICATION, 'seeds 6-11': FRESH,
             'seeds 0-11': PRIMARY + REPLICATION + FRESH}


def seed_pairs(every: pd.DataFrame, spec: dict, name: str, frac: int = 8) -> pd.DataFrame:
    """Paired test macro F1 differences at 1/`frac` for each pair (a, b) of `spec` on each of its named seed sets (`SEED_SETS`),
    fixed in advance -> results/`name`. A set whose runs are those of a smaller set gives no second row."""
    rows = [dict(seeds_used=used, **paired(every[every.seed.isin(seeds)], a, b, 'macro_f1', frac))
            for used, seeds in SEED_SETS.items() for (a, b), useds in spec.items() if used in useds and {a, b} <= set(every.cond)]
    out = pd.DataFrame(rows)
    if len(out): out = out[out.seeds > 1].drop_duplicates(['comparison', 'seeds', 'mean', 'se'])
    out.to_csv(RESULTS / name, index=False)
    return out


def replication(every: pd.DataFrame, c: str) -> pd.DataFrame:
    "The pre-registered replication: (c) against (a), (b) and (d), and (b) against (a), on the replication seeds alone and on all six."
    both = ('seeds 3-5', 'seeds 0-5')
    return seed_pairs(every, {(c, 'sup'): both, (c, 'self'): both, ('self', 'sup'): both, ('all', c): both}, 'semi_supervised_replication.csv')


def long_runs(every: pd.DataFrame) -> pd.DataFrame:
    "The longer runs (docstring): the test on its six seeds (and each half), the controls on seeds 0-2, (d) on all six."
    return seed_pairs(every, {('semi_pix2x', 'sup2x'): ('seeds 0-2', 'seeds 3-5', 'seeds 0-5'), ('semi_pix2x', 'self2x'): ('seeds 0-2',),
                              ('self2x', 'sup2x'): ('seeds 0-2',), ('semi_pix2x', 'sup4x'): ('seeds 0-2',), ('sup4x', 'sup2x'): ('seeds 0-2',),
                              ('all2x', 'semi_pix2x'): ('seeds 0-2', 'seeds 0-5'), ('adv2x', 'sup2x'): ('seeds 0-2',), ('semi_pix2x', 'adv2x'): ('seeds 0-2',)},
                      'semi_supervised_long.csv')


def share_runs(every: pd.DataFrame, c: str) -> pd.DataFrame:
    "A share, not a level (docstring): the test (c, share) - (a) on seeds 0-5 (and each half), its controls on seeds 0-5, the choice's pair on 0-2."
    six = ('seeds 0-5',)
    return seed_pairs(every, {(c, 'sup'): ('seeds 0-2', 'seeds 3-5', 'seeds 0-5'), (c, 'self_q'): six, ('self_q', 'sup'): six, (c, 'sup2x'): six,
                              ('all', c): six, ('semi_q0', 'semi_q'): ('seeds 0-2',), ('semi_qc', 'sup'): ('seeds 0-2',),
                              ('semi_qc', 'semi_pix'): ('seeds 0-2',)}, 'semi_supervised_share.csv')


def fm_runs(every: pd.DataFrame, c: str, w: str) -> pd.DataFrame:
    """Feature matching (docstring): the test (c, fm) - (a) on seeds 0-5 (and each half), its controls on seeds 0-5, `fm` - `adv`
    on 0-2, `fm_rand`'s pairs; the weight `w` validation chose, if not `fm`'s: its test and controls; and `fm`'s replication on
    seeds 6-11 (and, not a clean test, 0-11): `fm` - `sup` and `all` - `fm`."""
    six, halves = ('seeds 0-5',), ('seeds 0-2', 'seeds 3-5', 'seeds 0-5')
    new_w = {(w, 'sup'): halves, (w, 'fm'): six, (w, 'sup2x'): six} if w != 'fm' else {}
    new_w.update({('fm', 'pool_d'): ('seeds 0-2', 'seeds 0-5'), ('pool_d', 'sup'): ('seeds 0-2', 'seeds 0-5')})
    spec = {(c, 'sup'): ('seeds 0-2', 'seeds 3-5', 'seeds 0-5'), (c, 'self'): six, ('all', c): six, (c, 'sup2x'): six,
            ('fm', 'adv'): ('seeds 0-2',), ('semi_fm', 'fm'): ('seeds 0-2',),
            ('fm', 'fm_rand'): ('seeds 0-2', 'seeds 0-5'), ('fm_rand', 'sup'): ('seeds 0-2', 'seeds 0-5'), **new_w}
    for k in (('fm', 'sup'), ('all', 'fm')): spec[k] = spec.get(k, ()) + ('seeds 6-11', 'seeds 0-11')
    return seed_pairs(every, spec, 'semi_supervised_fm.csv')


def power(every: pd.DataFrame) -> pd.DataFrame:
    """What the criterion (2 SE) asks of six seeds, from the spread of `fm` - `sup` at 1/8 over seeds 0-11: the bar a six-seed
    mean must clear, as a share of the gap from (a) to (d), and the seeds a gain the size of the twelve-seed mean would
    need -> results/semi_supervised_power.csv (no row until all twelve seeds ran)."""
    pick = lambda k: every[(every.cond == k) & (every.frac == (1 if k in ALL_LABELS else 8)) & every.seed.isin(SEED_SETS['seeds 0-11'])].set_index('seed').macro_f1
    d, gap = (pick('fm') - pick('sup')).dropna(), (pick('all') - pick('sup')).dropna()
    rows = []
    if len(d) == len(SEED_SETS['seeds 0-11']):
        sd = d.std(ddof=1); bar = 2 * sd / 6 ** 0.5
        rows.append(dict(comparison='fm - sup', seeds=len(d), mean=d.mean(), sd=sd, bar_at_6_seeds=bar, gap_all_sup=gap.mean(), gap_seeds=len(gap),
                         bar_share_of_gap=bar / gap.mean(), seeds_needed=math.ceil((2 * sd / d.mean()) ** 2) if d.mean() > 0 else None))
    out = pd.DataFrame(rows).round(6)
    out.to_csv(RESULTS / 'semi_supervised_power.csv', index=False)
    return out


def scarce_runs(every: pd.DataFrame) -> pd.DataFrame:
    "Where labels are scarcest (docstring): `fm` - `sup` at 1/32 on seeds 0-5 (and 0-2, where `sup` ran first), `all` - `fm` on 0-5."
    return seed_pairs(every, {('fm', 'sup'): ('seeds 0-2', 'seeds 0-5'), ('all', 'fm'): ('seeds 0-5',)}, 'semi_supervised_fm32.csv', frac=32)


def late_fall(curves: pd.DataFrame, conds=('sup2x', 'semi_pix2x', 'adv2x')) -> pd.DataFrame:
    "`adv2x`'s question (docstring): validation macro F1 at step 800 minus at 1200, per run of `conds` at 1/8 on seeds 0-2, and its mean -> results/semi_supervised_late_fall.csv."
    v = curves[(curves.frac == 8) & curves.cond.isin(conds) & curves.seed.isin(PRIMARY)].pivot_table(index=['cond', 'seed'], columns='step', values='val_f1')
    fall = (v[800] - v[1200]).rename('late_fall').reset_index() if {800, 1200} <= set(v.columns) else pd.DataFrame(columns=['cond', 'seed', 'late_fall'])
    out = fall.groupby('cond').late_fall.agg(['mean', 'count']).rename(columns={'mean': 'late_fall', 'count': 'seeds'}).round(4).reset_index()
    out = out.assign(per_seed=[', '.join(f'{x:+.3f}' for x in fall[fall.cond == c].late_fall) for c in out.cond])
    out.to_csv(RESULTS / 'semi_supervised_late_fall.csv', index=False)
    return out


def choose(df: pd.DataFrame, variants, name: str) -> pd.DataFrame:
    "Which of `variants` is (c): the highest mean validation macro F1 at 1/8 over the same seeds (never the test split) -> results/`name`."
    v8 = df[(df.frac == 8) & df.cond.isin(variants)].groupby('cond').agg(val_macro_f1=('val_macro_f1', 'mean'), seeds=('seed', 'count'))
    v8 = v8[v8.seeds == v8.seeds.max()].sort_values('val_macro_f1', ascending=False).round(4)
    choice = v8.assign(chosen=[i == 0 for i in range(len(v8))]).reset_index()
    choice.to_csv(RESULTS / name, index=False)
    return choice


def finished(root: Path, name: str, stored) -> pd.DataFrame:
    """Every finished run's `name` (test.json, curve.csv) under `root`, over the rows the results CSVs `stored` already hold:
    the CSVs are the record (a fresh checkout has no runs/ folder); a run folder that is there replaces its stored rows."""
    key = lambda d: list(map(tuple, d[['cond', 'frac', 'seed']].values.tolist()))
    paths = sorted(p for p in root.glob(f'*/{name}') if not p.parent.name.startswith('shift_'))   # semi_shift.py's runs share the folder
    new = [pd.DataFrame([json.loads(p.read_text())]) if p.suffix == '.json' else pd.read_csv(p) for p in paths]
    old = pd.concat([pd.read_csv(RESULTS / n) for n in stored if (RESULTS / n).is_file()], ignore_index=True)
    if not new: return old
    new = pd.concat(new, ignore_index=True); ran = set(key(new))
    old = old[[k not in ran for k in key(old)]]
    return pd.concat([old, new], ignore_index=True)[list(old.columns) + [c for c in new.columns if c not in old.columns]]


def collect(root: Path, out: str) -> str:
    from sagan_seg.metrics import table_markdown
    every = finished(root, 'test.json', ('semi_supervised.csv', 'semi_supervised_replication_runs.csv')).sort_values(['frac', 'cond', 'seed'])
    df = every[every.seed.isin(PRIMARY)]               # the tables and the choice of (c); the replication seeds are read apart
    df.to_csv(RESULTS / 'semi_supervised.csv', index=False)
    every[~every.seed.isin(PRIMARY)].to_csv(RESULTS / 'semi_supervised_replication_runs.csv', index=False)   # seeds 3-11
    curves = finished(root, 'curve.csv', ('semi_supervised_curves.csv',)).sort_values(['cond', 'frac', 'seed', 'epoch'], kind='stable')
    curves[curves.seed.isin(PRIMARY)].to_csv(RESULTS / 'semi_supervised_curves.csv', index=False)
    cols = [c for c in ('val_macro_f1', 'macro_f1', 'f1_podocyte', 'f1_non_podocyte', 'last_semi_trusted', 'last_semi_pseudo_acc',
                        'last_semi_pseudo_acc_fg', 'last_semi_acc_all', 's_per_step') if c in df]
    g = df.groupby(['frac', 'cond'])
    mean = pd.DataFrame({c: [f'{m:.4f} ± {s:.4f}' if n > 1 else f'{m:.4f}' for m, s, n in zip(g[c].mean(), g[c].std(), g[c].count())]
                         for c in cols}, index=g.size().index).assign(seeds=g.size().values)
    comps = [('semi', 'sup'), ('semi', 'self'), ('self', 'sup'), ('semi', 'sup2x'), ('sup2x', 'sup'), ('semi_r0', 'sup'), ('semi_r0', 'semi'), ('both', 'sup'), ('adv', 'sup'), ('all', 'semi'),
             ('semi_pix', 'semi'), ('semi_pix', 'sup'), ('semi_pix', 'self'), ('semi_pix', 'sup2x'), ('sup_pix', 'sup'), ('semi_pix', 'sup_pix'), ('all', 'semi_pix'),
             ('semi_pix_st', 'semi_pix'), ('semi_pix_st', 'sup'), ('semi_pix_st', 'self'), ('semi_pix_st', 'sup2x'), ('all', 'semi_pix_st'),
             ('fix_self', 'sup'), ('fix_semi', 'sup'), ('fix_semi', 'self'), ('fix_semi', 'fix_self'), ('fix_self', 'self'), ('fix_semi', 'semi_pix'), ('fix_semi', 'sup2x'), ('all', 'fix_semi'),
             ('all2x', 'sup2x')]
    comps += [('semi_pix_cls', 'sup'), ('semi_pix_cls', 'self'), ('semi_pix_cls', 'semi_pix'), ('semi_pix_cls', 'sup2x'), ('all', 'semi_pix_cls')]
    comps += [('pool_d', 'sup'), ('fm', 'pool_d'), ('fm_w1', 'sup'), ('fm_w10', 'sup'), ('fm_w1', 'fm'), ('fm_w10', 'fm'), ('fm_rand', 'sup'), ('fm', 'fm_rand'), ('semi_fm', 'sup'), ('fm', 'sup'), ('semi_fm', 'fm'), ('semi_fm', 'self'), ('fm', 'adv'), ('semi_fm', 'semi')]
    comps += [('semi_q', 'sup'), ('semi_q0', 'sup'), ('self_q', 'sup'), ('semi_q', 'semi_pix'), ('semi_q0', 'semi_q'), ('semi_qc', 'sup'), ('semi_qc', 'semi_pix'), ('semi_qc', 'semi_q')]
    pairs = pd.DataFrame([paired(df, a, b, col, fr) for fr in sorted(set(df.frac) - {1}) for col in ('macro_f1', 'val_macro_f1')
                          for a, b in comps if {a, b} <= set(df.cond)])
    pairs = pairs[pairs.seeds > 0]                     # a pair whose conditions ran at other fractions only: no row
    pairs.to_csv(RESULTS / 'semi_supervised_pairs.csv', index=False)
    choice = choose(df, C_VARIANTS, 'semi_supervised_choice.csv')
    rep = replication(every, choice.cond[0])
    lng = long_runs(every)
    share = choose(df, SHARE_VARIANTS, 'semi_supervised_share_choice.csv')
    shr = share_runs(every, share.cond[0]) if len(share) else pd.DataFrame()
    fall = late_fall(curves)
    fmc = choose(df, FM_VARIANTS, 'semi_supervised_fm_choice.csv')
    fmw = choose(df, FM_WEIGHTS, 'semi_supervised_fmw_choice.csv')
    fmr = fm_runs(every, fmc.cond[0], fmw.cond[0] if len(fmw) else 'fm') if len(fmc) else pd.DataFrame()
    f32, pw = scarce_runs(every), power(every)
    have = {(r.cond, r.frac, r.seed) for r in every.itertuples()}
    fixed = {**LONG, 'semi_q0': PRIMARY, 'semi_q': PRIMARY, 'self_q': PRIMARY + REPLICATION, 'semi_qc': PRIMARY, **({share.cond[0]: PRIMARY + REPLICATION} if len(share) else {}),
             'semi_fm': PRIMARY, 'fm': PRIMARY, **({fmc.cond[0]: PRIMARY + REPLICATION} if len(fmc) else {}),
             'fm_rand': PRIMARY + (REPLICATION if len(fmc) and fmc.cond[0] == 'fm' else ()), 'fm_w1': PRIMARY, 'fm_w10': PRIMARY, 'pool_d': PRIMARY + REPLICATION,
             **({fmw.cond[0]: PRIMARY + REPLICATION} if len(fmw) else {})}
    fixed.update({k: tuple(fixed.get(k, ())) + FRESH for k in ('sup', 'fm', 'all')})   # `fm`'s replication on new seeds
    missing = [f'`{c}` seed {s}' for c, seeds in fixed.items() for s in seeds if (c, 1 if c in ALL_LABELS else 8, s) not in have]
    missing += [f'`{c}` at 1/32 seed {s}' for c, seeds in (('fm', PRIMARY + REPLICATION), ('sup', REPLICATION)) for s in seeds if (c, 32, s) not in have]
    extra = []
    for name, what in (('semi_supervised_judge.csv', "D as a judge of G's pixels on the pool (`--judge`), mean over seeds:"),
                       ('semi_supervised_time.csv', 'Seconds per step, each condition measured alone (`--time`):')):
        if (RESULTS / name).is_file():
            t = pd.read_csv(RESULTS / name)
            extra += [what, '', table_markdown(t.groupby('cond').mean(numeric_only=True).drop(columns='seed', errors='ignore').round(4) if 'seed' in t else t.set_index('cond')), '']
    text = '\n'.join([
        '# Semi-supervised training: does the discriminator earn its place on unlabeled tiles?', '',
        'Command: `python benchmarks/semi_supervised.py --collect` after one `python benchmarks/semi_supervised.py --cond C --frac F --seed S` call per run  ',
        f'Machine: {machine_line(threads=False)}, 1 thread per run, two runs at a time; load average {load_avg()} at collection  ',
        f'Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC  ',
        f"The demo's model and splits; {int(df[~df.cond.isin(list(STEPS_MULT))].steps.max())} generator steps per run (`sup2x`, `all2x` and the longer runs: twice; `sup4x`: four times), 6 validation points, the best checkpointed "
        'and calibrated on validation; the test split read once per run. Conditions:', '',
        *[f'- `{k}`: {v[2]}' for k, v in CONDITIONS.items() if k in set(df.cond)], '',
        'Mean ± sd over seeds (frac 1 = all labels; `last_semi_*`: the last epoch\'s share of unlabeled pixels trusted and the '
        'accuracy of the trusted pseudo-labels, of their non-background pixels, and of all of G\'s argmax, where the truth is known):', '',
        table_markdown(mean), '',
        f"Which variant is (c), chosen on validation at 1/8 (mean validation macro F1 over the same seeds): **{choice.cond[0]}**", '', table_markdown(choice.set_index('cond')), '',
        'Paired differences (mean and standard error over seeds; `beyond_2se`: |mean| > 2 SE):', '', table_markdown(pairs.set_index('comparison')), '',
        *extra,
        *(['Replication at 1/8, fixed before its runs (the docstring): the same paired test macro F1 differences on seeds '
           f'{", ".join(map(str, REPLICATION))} alone, and on all six seeds (not a clean test: adding seeds followed the first result):', '',
           table_markdown(rep.set_index('comparison')), ''] if len(rep) else []),
        *(['Longer runs at 1/8, fixed before their runs (the docstring): 1200 steps (`sup4x`: 2400, equal time); the test is '
           '`semi_pix2x - sup2x` on seeds 0-5. Paired test macro F1 differences:', '', table_markdown(lng.set_index('comparison')), '',
           ] if len(lng) else []),
        *([f"A share, not a level, at 1/8 and {int(df[df.cond == 'sup'].steps.max())} steps, fixed before its runs (the docstring): validation chose **{share.cond[0]}** "
           '(mean validation macro F1 over seeds 0-2):', '', table_markdown(share.set_index('cond')), '',
           f'The test is `{share.cond[0]} - sup` on seeds 0-5. Paired test macro F1 differences:', '', table_markdown(shr.set_index('comparison')), ''] if len(shr) else []),
        *(['The late fall (`adv2x`, the docstring): validation macro F1 at step 800 minus at 1200, mean over seeds 0-2:', '',
           table_markdown(fall.set_index('cond')), ''] if len(fall) else []),
        *([f"Feature matching at 1/8, fixed before its runs (the docstring): validation chose **{fmc.cond[0]}** (mean validation macro F1 over seeds 0-2):", '',
           table_markdown(fmc.set_index('cond')), '', f'The test is `{fmc.cond[0]} - sup` on seeds 0-5. Paired test macro F1 differences:', '',
           table_markdown(fmr.set_index('comparison')), '', "`fm`'s replication, fixed before its runs, is `fm - sup` on seeds 6-11 alone (above).", ''] if len(fmr) else []),
        *(["Feature matching's weight, chosen on validation (the docstring; mean validation macro F1 over seeds 0-2):", '',
           table_markdown(fmw.set_index('cond')), ''] if len(fmw) > 1 else []),
        *(['What the criterion asks of six seeds: the spread of `fm - sup` at 1/8 over seeds 0-11, the bar (2 SE) a six-seed mean must '
           'clear, its share of the gap from (a) to (d), and the seeds a gain the size of the twelve-seed mean would need:', '',
           table_markdown(pw.set_index('comparison').round(4)), ''] if len(pw) else []),
        *(['Feature matching where labels are scarcest, fixed before its runs (the docstring): `fm` at 1/32 of the labels, s4GAN\'s weight; '
           'the test is `fm - sup` at 1/32 on seeds 0-5. Paired test macro F1 differences:', '', table_markdown(f32.set_index('comparison')), ''] if len(f32) else []),
        f"Not run (of the runs fixed in advance: the longer runs, the share bars, `adv2x`, feature matching, its replication and 1/32): {', '.join(missing) if missing else 'none'}.", '',
        'Per run (replication seeds included):', '', table_markdown(every.set_index('cond')), ''])
    return write_results(text, out)


def run_parser(doc: str, conds, default: str, out: Path, judge: str) -> argparse.ArgumentParser:
    "The options every one-run-per-call benchmark here takes (this one and semi_shift.py): one run, `--collect` into `out`, `--judge` (what `judge` says)."
    p = argparse.ArgumentParser(description=doc.split('\n')[0])
    p.add_argument('--cond', default=default, choices=list(conds))
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--steps', type=int, default=600)
    p.add_argument('--evals', type=int, default=6)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--runs', default='runs/semi')
    p.add_argument('--collect', action='store_true')
    p.add_argument('--judge', action='store_true', help=judge)
    p.add_argument('--out', default=str(out))
    return p


def main(argv=None):
    p = run_parser(__doc__, CONDITIONS, 'semi', RESULTS / 'semi_supervised.md',
                   "score D as a judge of G's pixels on the pool, for every finished run (results/semi_supervised_judge.csv)")
    p.add_argument('--frac', type=int, default=8, help='labeled fraction 1/FRAC of the training tiles')
    p.add_argument('--time', action='store_true', help='seconds per step of each condition, measured alone (results/semi_supervised_time.csv)')
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.collect: return collect(Path(a.runs), a.out)
    if a.judge: return judge_all(Path(a.runs))
    if a.time: return print(step_times(Path(a.runs)).to_string(index=False))
    print(json.dumps(one_run(Path(a.runs), a.cond, a.frac, a.seed, a.steps, a.evals)))


if __name__ == '__main__':
    main()
