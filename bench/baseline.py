"""Raw SpiffWorkflow as people use it out of the box, for benchmarks only: the full JSON state (spec
included) is deserialised, one task completed, and the whole state serialised again; expressions run
in SpiffWorkflow's default eval-based environment. Never use this to run real cases."""
from __future__ import annotations

from collections.abc import Callable, Mapping

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.camunda.parser import CamundaParser
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.util.task import TaskState


class RawBaseline:
    def __init__(self, xml: str, process_key: str, functions: Mapping[str, Callable]):
        parser = CamundaParser()
        parser.add_bpmn_str(xml.encode("utf-8"), filename="baseline.bpmn")
        self.spec = parser.get_spec(process_key)
        self.script_engine = PythonScriptEngine(environment=TaskDataEnvironment(dict(functions)))
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(CAMUNDA_CONFIG))

    def start(self, data: Mapping) -> str:
        wf = BpmnWorkflow(self.spec, script_engine=self.script_engine)
        wf.task_tree.set_data(**dict(data))
        wf.do_engine_steps()
        return self.serializer.serialize_json(wf)

    def complete(self, state: str, data: Mapping) -> tuple[str, list[str]]:
        """Complete the (single) ready user task; returns the new state and the ready task ids."""
        wf = self.serializer.deserialize_json(state)
        wf.script_engine = self.script_engine
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.set_data(**dict(data))
        task.run()
        wf.do_engine_steps()
        ready = [t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True)]
        return self.serializer.serialize_json(wf), ready
