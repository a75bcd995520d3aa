"""Multi-instance outputs in instance order, whatever order the instances finish in.

SpiffWorkflow 3.2's ``MultiInstanceTask.merge_child`` appends each instance's output item
to the output collection when that instance completes, so a parallel multi-instance task
collects its outputs in completion order (its sequential form and an in-place update of the
input collection are already in index order). BPMN relates the n-th output to the n-th
input, so after each merge the output list is rebuilt from the merged instances sorted by
their index. ``install()`` is idempotent; the Engine calls it once.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableSequence

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask

_MARK = "_lotse_index_order"


def _ordered_merge(original):
    def merge_child(self, workflow, child):
        original(self, workflow, child)
        if self.data_output is None or self.output_item is None:
            return
        my_task = child.parent
        output = self.data_output.get(my_task)
        data_input = self.data_input.get(my_task) if self.data_input is not None else None
        if not isinstance(output, MutableSequence) or isinstance(output, Mapping) \
                or output is data_input:
            return  # a map or an in-place update: already keyed by index
        merged = set(my_task.internal_data.get("merged", []))
        done = [c for c in my_task.children if str(c.id) in merged]
        indexes = [c.internal_data.get("key_or_index") for c in done]
        if len(done) != len(output) or any(not isinstance(i, int) for i in indexes):
            return  # not a list built by merge_child alone: leave it as SpiffWorkflow made it
        order = sorted(range(len(done)), key=lambda k: indexes[k])
        output[:] = [self.output_item.get(done[k]) for k in order]

    setattr(merge_child, _MARK, True)
    return merge_child


def install() -> None:
    """Patch ``MultiInstanceTask.merge_child`` (once per process)."""
    if not getattr(MultiInstanceTask.merge_child, _MARK, False):
        MultiInstanceTask.merge_child = _ordered_merge(MultiInstanceTask.merge_child)
