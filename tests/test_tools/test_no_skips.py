"""Under CI (or SIMDISTILL_NO_SKIPS) a skip fails unless the test is marked cuda."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from simdistill.testing import ROOT

CONFTEST = os.path.join(ROOT, 'tests', 'conftest.py')  # the suite's, which this checks
SAMPLE = '''
import pytest

def test_passes():
    pass

def test_skips():
    pytest.skip('its input is missing')

@pytest.mark.skipif(True, reason='a condition')
def test_skipif():
    pass

@pytest.mark.cuda
@pytest.mark.skipif(True, reason='needs a CUDA device')
def test_needs_cuda():
    pass

@pytest.mark.xfail(reason='a known bug', strict=True)
def test_known_bug():
    assert False
'''


def run_sample(tmp_path, env_extra):
    """Runs the sample tests under this suite's conftest: {test name: outcome}, output, exit
    code."""
    shutil.copy(CONFTEST, tmp_path / 'conftest.py')
    (tmp_path / 'test_sample.py').write_text(SAMPLE)
    (tmp_path / 'test_skipped_module.py').write_text(
        "import pytest\npytest.importorskip('a_module_that_is_not_installed')\n")
    (tmp_path / 'pytest.ini').write_text('[pytest]\nmarkers =\n    cuda: needs CUDA\n')
    env = {k: v for k, v in os.environ.items() if k not in ('CI', 'SIMDISTILL_NO_SKIPS')}
    env.update(env_extra)
    proc = subprocess.run([sys.executable, '-m', 'pytest', str(tmp_path), '-rA', '-q',
                           '-p', 'no:cacheprovider'], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    outcomes = {}
    for line in proc.stdout.splitlines():
        parts = line.split(' ', 2)
        if len(parts) >= 2 and parts[0] in ('PASSED', 'FAILED', 'SKIPPED', 'XFAIL', 'ERROR'):
            name = parts[1].split('::')[-1] if '::' in parts[1] else parts[1]
            outcomes[name] = parts[0]
    return outcomes, proc.stdout, proc.returncode


@pytest.mark.parametrize('env', [{'CI': 'true'}, {'SIMDISTILL_NO_SKIPS': '1'}],
                         ids=['CI', 'SIMDISTILL_NO_SKIPS'])
def test_skips_fail_except_cuda_ones(tmp_path, env):
    outcomes, out, code = run_sample(tmp_path, env)
    assert outcomes.get('test_passes') == 'PASSED', out
    assert outcomes.get('test_skips') == 'FAILED', out
    assert outcomes.get('test_skipif') in ('FAILED', 'ERROR'), out  # failed in its setup
    assert outcomes.get('test_known_bug') == 'XFAIL', out
    assert 'test_needs_cuda' not in outcomes or outcomes['test_needs_cuda'] == 'SKIPPED', out
    assert 'SKIPPED [1]' in out and 'needs a CUDA device' in out  # the cuda skip only
    assert 'FAILED test_skipped_module.py: skipped at collection' in out
    assert code == 1  # the session fails
    assert 'skips are errors in this run' in out and 'its input is missing' in out


def test_without_the_setting_skips_stay_skips(tmp_path):
    outcomes, out, code = run_sample(tmp_path, {'SIMDISTILL_NO_SKIPS': '0'})
    assert code == 0, out
    assert outcomes.get('test_passes') == 'PASSED', out
    # (the conftest applies the stack shims, whose imports may add a warnings count)
    assert re.match(r'1 passed, 4 skipped, 1 xfailed(, \d+ warnings?)? in ',
                    out.splitlines()[-1]), out


def test_run_tests_sh_turns_the_rule_on():
    script = open(os.path.join(ROOT, 'tools', 'run_tests.sh')).read()
    assert 'export SIMDISTILL_NO_SKIPS=1' in script
    assert script.index('SIMDISTILL_NO_SKIPS=1') < script.index('pytest tests')
