"""A task's data read from the stored state alone (engine.state.StateCodec.task_data) is what reading the whole
workflow gives that task: the task page asks for one task's data and no longer builds the workflow for it.

The stories of tests/test_prune_differential.py (every construct of the corpus, loops, timers, sub-processes, and
the SOP diagram; Hypothesis draws which task is completed with which data and when the clock moves) are replayed;
after every action the state is written, and for every task of the process's own tree the one-task read must equal
the whole read's ``task.data``; a sub-process's task is left to the whole read (None).
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import test_prune_differential as stories
from tests.prune_corpus import CORPUS

_ENGINE = stories._ENGINE
EXAMPLES = 4


def _compare(workflow, parsed) -> int:
    codec = _ENGINE.codec
    text = codec.dumps(workflow)
    whole = codec.loads(text, codec.version, parsed.spec, parsed.subprocess_specs, workflow.script_engine)
    for task_id, task in whole.tasks.items():
        assert codec.task_data(text, codec.version, str(task_id)) == task.data, task.task_spec.name
    inner = [tid for sub in whole.subprocesses.values() for tid in sub.tasks if tid not in whole.tasks]
    for task_id in inner:
        assert codec.task_data(text, codec.version, str(task_id)) is None
    return len(whole.tasks) + len(inner)


@pytest.mark.nodb
@pytest.mark.parametrize("name", [*CORPUS, "sop"])
def test_one_tasks_data_is_what_the_whole_workflow_gives(name, monkeypatch):
    compared = [0]
    save = stories.Run._save

    def save_and_compare(self, run, reload):
        save(self, run, reload)
        compared[0] += _compare(self.workflow, self.parsed)

    monkeypatch.setattr(stories.Run, "_save", save_and_compare)

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.data())
    def story(data):
        stories.play(name, stories._Drawer(data))

    story()
    assert compared[0] > 0


@pytest.mark.nodb
def test_a_changed_value_deep_in_the_tree_is_read():
    """Data set three actions ago and changed since: the changes are applied in order, a removed key is gone."""
    run = stories.Run("sop", True, {"tanggal_kegiatan": "2025-05-05", "tanggal_pengumpulan": "2025-05-06",
                                    "hapus": 1}, stories.START)
    text = _ENGINE.codec.dumps(run.workflow)
    (ready,) = run.ready()
    data = _ENGINE.codec.task_data(text, _ENGINE.codec.version, str(ready.id))
    assert data == ready.data and data["hapus"] == 1
    with pytest.raises(ValueError):
        _ENGINE.codec.task_data(text, "an older serializer", str(ready.id))
