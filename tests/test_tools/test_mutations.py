"""The mutation runner's records (tools/mutations.py) still apply: each names an existing file,
an old text found there exactly once, and tests that exist, so a refactor that moves the code
under a mutation makes this fail instead of leaving the runner checking nothing."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import pytest

from simdistill.testing import ROOT

spec = importlib.util.spec_from_file_location('mutations', osp.join(ROOT, 'tools', 'mutations.py'))
mutations = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutations)


@pytest.mark.parametrize('mutation', mutations.MUTATIONS, ids=lambda m: f'm{m.id}')
def test_every_mutation_still_applies_once(mutation):
    assert mutations.check_record(mutation) is None
    text = open(osp.join(ROOT, mutation.file), encoding='utf-8').read()
    assert text.count(mutation.old) == 1 and mutation.tests


def test_every_named_test_is_collected():
    """Each node id of the records selects tests when pytest collects it from the repository
    root, as the runner passes it: a test file moved or renamed, or a test renamed, fails here
    (pytest answers a stale id with 'not found' and exit code 4)."""
    ids = sorted({test for m in mutations.MUTATIONS for test in m.tests})
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env.pop('SIMDISTILL_NO_SKIPS', None)  # as the runner: a module skip is not a stale id
    proc = subprocess.run([sys.executable, '-m', 'pytest', '--collect-only', '-q',
                           '-p', 'no:cacheprovider', *ids], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    collected = [line for line in proc.stdout.splitlines() if '::' in line]
    empty = [test for test in ids
             if not any(line == test or line.startswith(test + ('[' if '::' in test else '::'))
                        for line in collected)]
    assert empty == [], proc.stdout[-3000:]


def test_the_shared_list_is_all_there_and_ids_are_unique():
    ids = [m.id for m in mutations.MUTATIONS]
    assert len(ids) == len(set(ids)) and set(range(1, 18)) <= set(ids)


def test_apply_changes_a_copy_only(tmp_path):
    mutation = mutations.by_id()[11]
    target = tmp_path / mutation.file
    target.parent.mkdir(parents=True)
    original = open(osp.join(ROOT, mutation.file), encoding='utf-8').read()
    target.write_text(original)
    mutations.apply(mutation, str(tmp_path))
    changed = target.read_text()
    assert changed == original.replace(mutation.old, mutation.new) and changed != original
    assert open(osp.join(ROOT, mutation.file), encoding='utf-8').read() == original
    with pytest.raises(ValueError, match='occurs 0 times'):
        mutations.apply(mutation, str(tmp_path))  # applied already: the old text is gone
