"""Mutation runner: every claim the suite makes must fail a test when its code is broken.

Each record below is one small deliberate bug (``/work/shared/mutations.md`` numbers 1-17,
then the ones added with issue 22): a source file, an exact text that occurs once in it, its
replacement, and the tests that must fail. For each selected mutation the runner copies the
working tree (tracked and untracked, not ignored files) to a temporary folder, applies the
replacement there (never in the working tree), runs the named tests in the copy with the
copy's package first on ``PYTHONPATH`` and reports whether they failed (caught), passed
(missed) or could not run (error), with the failing tests' ids.

    python tools/mutations.py --only 9 10 11 12 13          # a few
    python tools/mutations.py --only 11 -k by_value         # narrower pytest selection
    python tools/mutations.py --list                         # the records
    python tools/mutations.py --json work_dirs/mutations.json

Before the mutations it runs each selected test selection once unmutated (``--no-baseline``
skips that): a selection that fails without a bug proves nothing, so its mutations are reported
as errors, not caught.
The exit status is 0 only if every selected mutation was caught.
``tests/test_tools/test_mutations.py`` checks that every record's old text is still in its file
exactly once and that every test it names is collected, so the records cannot go stale
silently.
"""
import argparse
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PKG = 'projects/SimDistill/simdistill/'


@dataclass(frozen=True)
class Mutation:
    """One deliberate bug.

    Attributes:
        id: its number (1-17 as in the shared list).
        claim: what the bug breaks.
        file: the source file, relative to the repository.
        old: exact text that occurs once in ``file``.
        new: what replaces it.
        tests: pytest node ids (``tests/<dir>/x.py`` or ``tests/<dir>/x.py::test_y``) that
            must fail.
    """
    id: int
    claim: str
    file: str
    old: str
    new: str
    tests: Sequence[str] = field(default_factory=tuple)


MUTATIONS: List[Mutation] = [
    Mutation(1, 'exact resume: the runner checkpoint loader drops the optimizer state',
             PKG + 'checkpoint/loading.py',
             '    return load_checkpoint_file(osp.expanduser(filename), map_location)\n',
             '    checkpoint = load_checkpoint_file(osp.expanduser(filename), map_location)\n'
             "    checkpoint.pop('optimizer', None)\n"
             '    return checkpoint\n',
             ('tests/test_engine/test_resume.py', )),
    Mutation(2, 'exact resume: SeedEachEpochHook.before_train_epoch does not reseed',
             PKG + 'engine/epoch_seed_hook.py',
             '        seed_everything(epoch_seed(seed, runner.epoch))\n',
             '        return\n',
             ('tests/test_engine/test_resume.py', )),
    Mutation(3, 'non-finite guard: never raises', PKG + 'engine/non_finite.py',
             "        if self.on_non_finite == 'raise':\n", '        if False:\n',
             ('tests/test_engine/test_non_finite.py', )),
    Mutation(4, 'safe loading: checkpoints load with weights_only=False',
             PKG + 'checkpoint/loading.py',
             'return torch.load(filename, map_location=map_location, weights_only=True)',
             'return torch.load(filename, map_location=map_location, weights_only=False)',
             ('tests/test_checkpoint/test_safe_loading.py', )),
    Mutation(5, 'atomic writes: atomic_path yields the target itself (in-place write)',
             PKG + 'utils/atomic.py',
             '        yield tmp\n        os.replace(tmp, path)\n', '        yield path\n',
             ('tests/test_utils/test_atomic.py', )),
    Mutation(6, "bad inputs: the point loader's NaN/inf check removed",
             PKG + 'datasets/transforms/loading.py', '    if not finite.all():\n',
             '    if False:\n', ('tests/test_datasets/test_bad_inputs.py', )),
    Mutation(7, "corrupt files: the point loader's multiple-of-load_dim check removed",
             PKG + 'datasets/transforms/loading.py',
             '    if points.size == 0 or points.size % load_dim:\n',
             '    if points.size == 0:\n',
             ('tests/test_datasets/test_corrupt_files_property.py', )),
    Mutation(8, "model-zoo parity: the converter leaves the BEV kernels' spatial axes",
             PKG + 'model_conversion/mmdet3d_bevfusion.py',
             '            value = value.transpose(2, 3)\n', '            value = value\n',
             ('tests/test_models/test_model_zoo_parity.py', )),
    Mutation(9, 'parity: the LiDAR BEV map transposed in extract_lidar_bev',
             PKG + 'models/detectors/bevfusion.py',
             "        bev = self.pts_middle_encoder(feats, voxels['coors'], batch_size)\n",
             "        bev = self.pts_middle_encoder(feats, voxels['coors'], batch_size)"
             '.transpose(-1, -2)\n',
             ('tests/test_models/test_models.py::test_a_lidar_point_lights_its_own_bev_cell',
              'tests/test_models/test_model_zoo_parity.py')),
    Mutation(10, 'distillation terms: heat-map QFL term x2',
             PKG + 'models/distillers/prediction_distill.py',
             "        total = total + loss_fn(logits.permute(0, 2, 3, 1).flatten(0, 2), cells,\n",
             "        total = total + 2 * loss_fn(logits.permute(0, 2, 3, 1).flatten(0, 2), cells,\n",
             ('tests/test_models/test_simdistill.py', )),
    Mutation(11, 'distillation terms: fused feature term x2 in feature_distill_losses',
             PKG + 'models/distillers/simdistill.py',
             "            losses[f'loss_distill_{name}'] = loss_fn(s_feat, t_feat)\n",
             "            losses[f'loss_distill_{name}'] = loss_fn(s_feat, t_feat) * "
             "(2 if name == 'fused' else 1)\n",
             ('tests/test_models/test_simdistill.py', )),
    Mutation(12, "region-aware LiDAR term: the mask applied to the student's map only",
             PKG + 'models/distillers/simdistill.py',
             '                s_feat, t_feat = s_feat * mask, t_feat * mask\n',
             '                s_feat = s_feat * mask\n',
             ('tests/test_models/test_simdistill.py', )),
    Mutation(13, 'region-aware LiDAR term: the mask never applied',
             PKG + 'models/distillers/simdistill.py',
             '                s_feat, t_feat = s_feat * mask, t_feat * mask\n',
             '                s_feat, t_feat = s_feat, t_feat\n',
             ('tests/test_models/test_simdistill.py', )),
    Mutation(14, 'frozen teacher: SimDistill.train() puts the teacher in train mode',
             PKG + 'models/distillers/simdistill.py',
             '        self.teacher.eval()  # BN statistics and dropout of the teacher never '
             'change\n',
             '        self.teacher.train(mode)\n', ('tests/test_models/test_simdistill.py', )),
    Mutation(15, 'BEV pool: ranks_feat off by one in build_plan', PKG + 'ops/bev_pool/plan.py',
             '        ranks_feat=feat[order],\n', '        ranks_feat=feat[order] + 1,\n',
             ('tests/test_ops/test_bev_pool.py', )),
    Mutation(16, "BEV pool: the torch backend's context gradient with searchsorted right=False",
             PKG + 'ops/bev_pool/reference.py',
             'torch.searchsorted(plan.interval_starts, points, right=True) - 1',
             'torch.searchsorted(plan.interval_starts, points, right=False) - 1',
             ('tests/test_ops/test_bev_pool.py', )),
    Mutation(17, "BEV pool: the compiled CPU kernel's unrolled loop drops its 4th point",
             PKG + 'ops/bev_pool/src/bev_pool_forward.h',
             'a[c] += w0 * r0[c] + w1 * r1[c] + w2 * r2[c] + w3 * r3[c];',
             'a[c] += w0 * r0[c] + w1 * r1[c] + w2 * r2[c];',
             ('tests/test_ops/test_bev_pool.py', )),
    # ---- added with issue 22 ----
    Mutation(18, 'prediction distillation: padded ground-truth slots counted in the box term',
             PKG + 'models/distillers/prediction_distill.py',
             '    return picked[mask.bool()]\n', '    return picked.flatten(0, 1)\n',
             ('tests/test_models/test_simdistill.py::test_prediction_terms_by_value_at_real_and_'
              'padded_box_slots', )),
    Mutation(19, "prediction distillation: the teacher's heatmap through sigmoid twice",
             PKG + 'models/distillers/prediction_adapters.py',
             "        return [task[0]['heatmap'].detach().sigmoid() for task in teacher_preds]\n",
             "        return [task[0]['heatmap'].detach().sigmoid().sigmoid() "
             'for task in teacher_preds]\n',
             ('tests/test_models/test_simdistill.py::test_prediction_terms_by_value_at_real_and_'
              'padded_box_slots', )),
    Mutation(20, 'region-aware LiDAR term: the mask transposed (rows x, columns y)',
             PKG + 'models/distillers/bev_mask.py',
             '        masks.append(heat.amax(dim=0, keepdim=True))\n',
             '        masks.append(heat.amax(dim=0, keepdim=True).transpose(-1, -2))\n',
             ('tests/test_models/test_simdistill.py::test_feature_terms_by_value_inside_and_'
              'outside_the_box_mask', )),
    Mutation(21, 'fuser: the inputs concatenated in reverse order', PKG + 'models/fusers/'
             'conv_fuser.py', '        return super().forward(torch.cat(inputs, dim=1))\n',
             '        return super().forward(torch.cat(inputs[::-1], dim=1))\n',
             ('tests/test_models/test_models.py::test_conv_fuser_computes_the_hand_worked_'
              'convolution', )),
    Mutation(22, 'info files: the restricted unpickler admits any global',
             PKG + 'datasets/safe_pickle.py',
             '        if (module, name) not in ALLOWED_GLOBALS:\n',
             '        if False:\n', ('tests/test_checkpoint/test_safe_loading.py', )),
    Mutation(23, 'non-finite guard: ranks decide alone (no all-reduce of the finite flag)',
             PKG + 'engine/non_finite.py',
             '        dist.all_reduce(finite, op=dist.ReduceOp.MIN)\n', '        pass\n',
             ('tests/test_engine/test_non_finite_ddp.py', )),
    Mutation(24, 'one-step swap: two renames instead of RENAME_EXCHANGE',
             PKG + 'utils/atomic.py', '    if exchange_paths(src, dst):\n', '    if False:\n',
             ('tests/test_utils/test_atomic.py::test_swap_killed_at_every_step_leaves_old_or_'
              'new', )),
    Mutation(25, 'LiDAR-depth LSS: the depth map of the LiDAR points replaced by zeros',
             PKG + 'models/view_transforms/lss.py',
             '            depth_feats = self.dtransform(self.depth_image(points, cameras)'
             '.flatten(0, 1))\n',
             '            depth_feats = self.dtransform(torch.zeros_like(self.depth_image('
             'points, cameras)).flatten(0, 1))\n',
             ('tests/test_models/test_models.py::test_lss_with_lidar_depth_needs_points_and_uses_'
              'them', )),
    Mutation(26, 'corrupt files: the point loader drops the last point of a whole file',
             PKG + 'datasets/transforms/loading.py', '    return points\n',
             '    return points[:-load_dim] if points.size > load_dim else points\n',
             ('tests/test_datasets/test_corrupt_files_property.py::test_corrupt_point_files_load_'
              'whole_points_or_fail_clearly', )),
    Mutation(27, 'info files: loaded with plain pickle (mmengine.load) again',
             PKG + 'datasets/nuscenes_dataset.py',
             '        annotations = load_info_file(self.ann_file)\n',
             '        annotations = __import__(\'mmengine\').load(self.ann_file)\n',
             ('tests/test_checkpoint/test_safe_loading.py', )),
    Mutation(28, 'GT-paste database: read by plain pickle only (no restricted check first)',
             PKG + 'datasets/transforms/gt_paste.py', '            load_info_file(info_path)\n',
             '            pass\n',
             ('tests/test_checkpoint/test_safe_loading.py::test_a_gt_paste_database_that_would_'
              'run_code_is_refused', )),
    Mutation(29, "metric: the info file read by mmdet3d's plain pickle only",
             PKG + 'evaluation/nuscenes_metric.py', '            load_info_file(self.ann_file)\n',
             '            pass\n',
             ('tests/test_checkpoint/test_safe_loading.py::test_the_metric_refuses_an_info_file_'
              'that_would_run_code', )),
    Mutation(30, 'staged training: a bare --resume drops load_from (mmdet3d\'s behaviour)',
             PKG + 'entrypoints/resume.py',
             "    if args.resume != 'auto' or not cfg.get('load_from'):\n",
             '    if True:\n', ('tests/test_engine/test_resume_load_from.py', )),
]


def by_id() -> Dict[int, Mutation]:
    return {m.id: m for m in MUTATIONS}


def check_record(mutation: Mutation, root: str = ROOT) -> Optional[str]:
    """What is wrong with a record (None if it applies): its file, its text, its tests."""
    path = osp.join(root, mutation.file)
    if not osp.isfile(path):
        return f'#{mutation.id}: {mutation.file} does not exist'
    count = open(path, encoding='utf-8').read().count(mutation.old)
    if count != 1:
        return f'#{mutation.id}: its old text occurs {count} times in {mutation.file}'
    if mutation.old == mutation.new:
        return f'#{mutation.id}: old and new text are equal'
    for test in mutation.tests:
        file, _, name = test.partition('::')
        if not osp.isfile(osp.join(root, file)):
            return f'#{mutation.id}: test file {file} does not exist'
        if name and not re.search(rf'^def {re.escape(name.split("[")[0])}\(',
                                  open(osp.join(root, file)).read(), re.M):
            return f'#{mutation.id}: {file} has no test {name}'
    return None


def copy_tree(dest: str) -> None:
    """Copies the working tree's tracked and untracked-but-not-ignored files to ``dest``."""
    files = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                           cwd=ROOT, check=True, capture_output=True).stdout.decode().split('\0')
    for rel in filter(None, files):
        src = osp.join(ROOT, rel)
        if not osp.isfile(src):  # deleted but still in the index
            continue
        os.makedirs(osp.dirname(osp.join(dest, rel)), exist_ok=True)
        shutil.copy2(src, osp.join(dest, rel))


def apply(mutation: Mutation, root: str) -> None:
    """Replaces the mutation's old text (exactly once in its file) under ``root``."""
    path = osp.join(root, mutation.file)
    text = open(path, encoding='utf-8').read()
    if text.count(mutation.old) != 1:
        raise ValueError(f'#{mutation.id}: its old text occurs {text.count(mutation.old)} '
                         f'times in {path}')
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text.replace(mutation.old, mutation.new))


def run_tests(root: str, tests: Sequence[str], keyword: Optional[str], timeout: float,
              maxfail: int) -> dict:
    """Runs pytest on ``tests`` in the copy ``root``: exit code, failing ids, output tail."""
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (osp.join(root, 'projects', 'SimDistill'), env.get('PYTHONPATH')) if p)
    env.pop('SIMDISTILL_NO_SKIPS', None)  # a skipped test is reported, not counted as caught
    cmd = [sys.executable, '-m', 'pytest', *tests, '-q', '-rfE', '-p', 'no:cacheprovider',
           f'--maxfail={maxfail}']
    if keyword:
        cmd += ['-k', keyword]
    start = time.time()
    try:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True,
                              timeout=timeout)
        code, output = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as err:
        code, output = 'timeout', (err.stdout or b'').decode(errors='replace') if isinstance(
            err.stdout, bytes) else (err.stdout or '')
    failed = re.findall(r'^(?:FAILED|ERROR) (\S+)', output, re.M)
    if isinstance(code, int) and code < 0:  # killed by a signal: name the test it was in
        running = re.findall(r'(tests/\S+\.py::\S+)', output) + [
            f'{osp.relpath(f, root)}::{t}'  # tests/<dir>/test_x.py in the copy
            for f, t in re.findall(r'File "(\S+)", line \d+ in (test_\w+)', output)]
        failed = [f'{running[-1] if running else "pytest"} (died of signal {-code})']
    return dict(code=code, failed=failed, seconds=round(time.time() - start, 1),
                tail=output[-1500:])


def verdict(result: dict) -> str:
    # pytest: 0 all passed, 1 some failed; 2-5 interrupted, internal, usage, nothing collected
    if result['code'] == 1 and result['failed']:
        return 'caught'
    if isinstance(result['code'], int) and result['code'] < 0:
        return 'caught'  # pytest itself died of a signal (e.g. a segfault): the suite fails
    if result['code'] == 0:
        return 'missed'
    return 'error'


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', type=int, nargs='+', help='mutation ids (default: all)')
    parser.add_argument('-k', dest='keyword', help='pytest -k expression for every run')
    parser.add_argument('--tests', nargs='+', help='run these node ids instead of the records\'')
    parser.add_argument('--list', action='store_true', help='print the records and exit')
    parser.add_argument('--json', help='write the results here (JSON)')
    parser.add_argument('--no-baseline', action='store_true',
                        help='do not run the selections unmutated first')
    parser.add_argument('--maxfail', type=int, default=1,
                        help='stop a run after this many failures (default 1)')
    parser.add_argument('--timeout', type=float, default=900, help='seconds per run')
    args = parser.parse_args(argv)

    selected = [by_id()[i] for i in args.only] if args.only else list(MUTATIONS)
    if args.list:
        for m in selected:
            print(f'{m.id:>3}  {m.file}  -> {", ".join(m.tests)}\n     {m.claim}')
        return 0
    problems = [p for p in map(check_record, selected) if p]
    if problems:
        print('\n'.join(problems), file=sys.stderr)
        return 2
    results = []
    with tempfile.TemporaryDirectory(prefix='simdistill-mutations-') as tmp:
        pristine = osp.join(tmp, 'pristine')
        copy_tree(pristine)
        broken = set()  # selections that fail unmutated: their mutations prove nothing
        if not args.no_baseline:
            for tests in sorted({tuple(args.tests or m.tests) for m in selected}):
                base = run_tests(pristine, tests, args.keyword, args.timeout, args.maxfail)
                print(f'baseline {" ".join(tests)}: exit {base["code"]} ({base["seconds"]} s)',
                      flush=True)
                if base['code'] != 0:
                    print(base['tail'], file=sys.stderr)
                    broken.add(tests)
        for m in selected:
            tests = list(args.tests or m.tests)
            if tuple(tests) in broken:
                result = dict(code='baseline failed', failed=[], seconds=0.0, tail='')
            else:
                work = osp.join(tmp, f'mutant-{m.id}')
                shutil.copytree(pristine, work, symlinks=True)
                apply(m, work)
                result = run_tests(work, tests, args.keyword, args.timeout, args.maxfail)
                shutil.rmtree(work, ignore_errors=True)
            row = dict(asdict(m), verdict=verdict(result), failing_tests=result['failed'],
                       exit_code=result['code'], seconds=result['seconds'], tests=tests,
                       keyword=args.keyword)
            del row['old'], row['new']
            if row['verdict'] == 'error':
                row['output_tail'] = result['tail']
            results.append(row)
            print(f'#{m.id:<3} {row["verdict"]:<7} {row["seconds"]:>7.1f} s  '
                  f'{", ".join(result["failed"]) or "-"}', flush=True)
    print('\n| # | claim | verdict | caught by | s |\n|---|---|---|---|---|')
    for r in results:
        print(f'| {r["id"]} | {r["claim"]} | {r["verdict"]} | '
              f'{", ".join(r["failing_tests"]) or "-"} | {r["seconds"]} |')
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1)
    survivors = [r['id'] for r in results if r['verdict'] != 'caught']
    print(f'\n{len(results) - len(survivors)} of {len(results)} caught'
          + (f'; not caught: {survivors}' if survivors else ''))
    return 1 if survivors else 0


if __name__ == '__main__':
    sys.exit(main())
