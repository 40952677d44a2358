"""Teacher-prediction adapters: one per teacher head type, chosen once when the distiller is
built.

The student's head is a CenterHead: per task, a dense ``heatmap`` ``(B, k_t, H, W)`` of logits
and box regression maps (``reg``, ``height``, ``dim``, ``rot``, ``vel``). An adapter knows how
one teacher head's raw outputs meet those, and which prediction terms that head supports:

- :class:`CenterHeadPredictions`: a CenterHead teacher with the student's tasks; heatmaps and
  box regressions are compared task by task.
- :class:`TransFusionPredictions`: a TransFusion teacher; its one dense class heatmap is split
  into the student's tasks class by class. It regresses boxes per query, not per cell, so only
  its heatmap is distilled.

:func:`build_prediction_adapter` picks the adapter from the teacher head config's ``type``;
the distiller then calls its methods and never asks which head it has.
"""
from typing import ClassVar, Dict, List, Optional, Sequence, Type

from torch import Tensor

from ...errors import ConfigMismatchError
from .prediction_distill import PredsDicts, task_class_indices

TaskClasses = Sequence[Sequence[int]]


class TeacherPredictionAdapter:
    """Brings a teacher head's raw outputs into the student CenterHead's per-task form.

    Args:
        task_classes: per student task, the teacher class index of each of its classes.

    Attributes:
        name: a short name of the teacher head kind (``'center'``, ``'transfusion'``).
        head_type: the suffix of the head config ``type`` this adapter serves.
        distills_regression: the teacher regresses boxes per cell as the student does, so the
            box-regression term (``loss_distill_reg``) applies.
    """
    name: ClassVar[str]
    head_type: ClassVar[str]
    distills_regression: ClassVar[bool]

    def __init__(self, task_classes: TaskClasses) -> None:
        self.task_classes = tuple(tuple(int(i) for i in task) for task in task_classes)

    @classmethod
    def from_cfgs(cls, teacher_head: dict, student_tasks: Sequence[dict],
                  class_names: Optional[Sequence[str]] = None,
                  regression: bool = False) -> 'TeacherPredictionAdapter':
        """Checks that teacher and student heads can be distilled and builds the adapter.

        Args:
            teacher_head: the teacher's ``bbox_head`` config.
            student_tasks: the student CenterHead's ``tasks`` (``class_names`` each).
            class_names: the dataset's classes in label order.
            regression: whether the box-regression term is asked for.

        Raises:
            ValueError: a term the teacher head does not support, or missing class names.
            ConfigMismatchError: (a ``ValueError``) the heads' classes or tasks disagree.
        """
        if regression and not cls.distills_regression:
            raise ValueError(f'loss_distill_reg needs a CenterHead teacher: a {cls.head_type} '
                             'teacher has no per-cell box regressions; set it to None')
        teacher_classes = cls.teacher_classes(teacher_head, student_tasks, class_names)
        return cls(task_class_indices(student_tasks, teacher_classes))

    @staticmethod
    def teacher_classes(teacher_head: dict, student_tasks: Sequence[dict],
                        class_names: Optional[Sequence[str]]) -> Sequence[str]:
        """The teacher's classes in its label order (checked against the student's tasks)."""
        raise NotImplementedError

    def teacher_heatmaps(self, teacher_preds: PredsDicts) -> List[Tensor]:
        """Teacher heatmap probabilities per student task (sigmoid applied once, here).

        Args:
            teacher_preds: the teacher head's raw outputs, per task a list of one dict
                (mmdet3d's CenterHead nesting).

        Returns:
            list: per student task ``(B, k_t, H, W)`` probabilities, detached.
        """
        raise NotImplementedError

    def teacher_regressions(self, teacher_preds: PredsDicts) -> PredsDicts:
        """The teacher's per-task box regression maps, in the student's task nesting.

        Only adapters with ``distills_regression`` have them.
        """
        raise TypeError(f'a {self.head_type} teacher has no per-cell box regressions')


class CenterHeadPredictions(TeacherPredictionAdapter):
    """A CenterHead teacher with the student's tasks: its outputs are already per task."""
    name = 'center'
    head_type = 'CenterHead'
    distills_regression = True

    @staticmethod
    def teacher_classes(teacher_head: dict, student_tasks: Sequence[dict],
                        class_names: Optional[Sequence[str]]) -> Sequence[str]:
        """The teacher's task classes concatenated; the tasks must be the student's.

        Raises:
            ConfigMismatchError: the tasks differ.
        """
        s_tasks = [list(t['class_names']) for t in student_tasks]
        t_tasks = [list(t['class_names']) for t in teacher_head['tasks']]
        if s_tasks != t_tasks:
            raise ConfigMismatchError(f'a CenterHead teacher must have the student\'s tasks: '
                                      f'student {s_tasks}, teacher {t_tasks}')
        return [c for task in t_tasks for c in task]

    def teacher_heatmaps(self, teacher_preds: PredsDicts) -> List[Tensor]:
        return [task[0]['heatmap'].detach().sigmoid() for task in teacher_preds]

    def teacher_regressions(self, teacher_preds: PredsDicts) -> PredsDicts:
        return teacher_preds


class TransFusionPredictions(TeacherPredictionAdapter):
    """A TransFusion teacher: one dense ``(B, K, H, W)`` class heatmap, split into the
    student's tasks by class name; no per-cell box regressions."""
    name = 'transfusion'
    head_type = 'TransFusionHead'
    distills_regression = False

    @staticmethod
    def teacher_classes(teacher_head: dict, student_tasks: Sequence[dict],
                        class_names: Optional[Sequence[str]]) -> Sequence[str]:
        """The dataset's ``class_names``: a TransFusion head's label order.

        Raises:
            ValueError: no ``class_names``.
        """
        if class_names is None:
            raise ValueError('a TransFusion teacher needs class_names (its label order)')
        return class_names

    def teacher_heatmaps(self, teacher_preds: PredsDicts) -> List[Tensor]:
        heatmap = teacher_preds[0][0]['heatmap'].detach().sigmoid()
        return [heatmap[:, list(indices)] for indices in self.task_classes]


# head config type suffix -> adapter ('PriorInitCenterHead', 'mmdet3d.CenterHead', ...)
PREDICTION_ADAPTERS: Dict[str, Type[TeacherPredictionAdapter]] = {
    adapter.head_type: adapter for adapter in (CenterHeadPredictions, TransFusionPredictions)
}


def prediction_adapter_class(head_cfg: Optional[dict]) -> Type[TeacherPredictionAdapter]:
    """The adapter for a head config, by the suffix of its ``type``.

    Raises:
        ValueError: no adapter serves the type (the message names it).
    """
    head_type = (head_cfg or {}).get('type', '')
    for suffix, adapter in PREDICTION_ADAPTERS.items():
        if head_type.endswith(suffix):
            return adapter
    raise ValueError(f'prediction distillation supports {" and ".join(PREDICTION_ADAPTERS)} '
                     f'teachers, got {head_type!r}')


def build_prediction_adapter(teacher_head: dict, student_tasks: Sequence[dict],
                             class_names: Optional[Sequence[str]] = None,
                             regression: bool = False) -> TeacherPredictionAdapter:
    """The adapter for ``teacher_head``'s type, checked against the student's tasks (see
    :meth:`TeacherPredictionAdapter.from_cfgs`)."""
    return prediction_adapter_class(teacher_head).from_cfgs(teacher_head, student_tasks,
                                                            class_names, regression)
