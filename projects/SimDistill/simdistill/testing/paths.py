"""Where the tests find the checkout and the CPU configs they run.

``ROOT`` is the repository root, computed from this package's location
(``projects/SimDistill/simdistill/testing/paths.py``): the tests run from a checkout, and so do
these helpers; an installed copy of the package without the checkout has no ``configs/`` or
``tools/`` beside it.
"""
import os.path as osp

# five levels up from projects/SimDistill/simdistill/testing/paths.py; abspath, not resolve, as
# the tests' own ROOT was (a checkout reached through a link keeps its path)
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))))

# The CPU configs, relative to ROOT (the tools run with ``cwd=ROOT``).
CPU_TEACHER = 'configs/bevfusion/bevfusion_lidar-cam_pillar-r18_1xb2-cpu-12e_nus-mini-3d.py'
BASELINE = 'configs/bevfusion/bevfusion_cam_r18_1xb2-cpu-12e_nus-mini-3d.py'
LIDAR_ONLY = 'configs/bevfusion/bevfusion_lidar_pillar_1xb2-cpu-12e_nus-mini-3d.py'
CPU_STUDENT = 'configs/simdistill/simdistill-student_r18_1xb2-cpu-12e_nus-mini-3d.py'
CPU_DISTILLER = 'configs/simdistill/simdistill_r18_pillar-teacher_1xb2-cpu-12e_nus-mini-3d.py'

# The same, absolute (what ``Config.fromfile`` gets from a test run in any folder).
TEACHER = osp.join(ROOT, CPU_TEACHER)
STUDENT = osp.join(ROOT, CPU_STUDENT)
DISTILLER = osp.join(ROOT, CPU_DISTILLER)
