"""atomic_path: a finished write replaces the file; a failed one leaves the old file alone."""
import os
import stat

import pytest

from simdistill.utils.atomic import atomic_path


def test_atomic_path_replaces_on_success_and_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / 'out.json'
    path.write_text('old')
    with pytest.raises(RuntimeError):
        with atomic_path(str(path)) as tmp, open(tmp, 'w') as f:
            f.write('half')
            raise RuntimeError('killed midway')
    assert path.read_text() == 'old' and os.listdir(tmp_path) == ['out.json']
    with atomic_path(str(path)) as tmp, open(tmp, 'w') as f:
        f.write('new')
    assert path.read_text() == 'new' and os.listdir(tmp_path) == ['out.json']
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666 & ~umask  # not mkstemp's 0600
