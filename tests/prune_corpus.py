"""Diagrams for the prune differential test (tests/test_prune_differential.py), built in code.

Together they cover every construct the validator (``engine.definitions.parse_definition``) accepts: user and
script tasks, exclusive gateways with conditions and a default, parallel split and join, loops back through an
exclusive merge, through a parallel join, nested, and into a parallel region, non-interrupting and interrupting
timer and signal boundary events, intermediate timer and signal catch events, signal throw events, end events
of every accepted kind (none, terminate, signal, error, escalation), untyped and manual tasks (which pass by
themselves), inclusive gateways (split with conditions and a default, a join waiting for the branches taken, branches
that leave before the join, a split in a loop, and a join in a loop, which deploying refuses), and embedded
sub-processes (in a loop, nested, with their own loop and parallel region, deadlines inside, timers and an error
boundary on the sub-process, a signal thrown inside and caught outside, branches ending inside). The bundled SOP
diagram is added by the test.

Each entry gives the diagram and the values its user tasks may submit: ``pilih`` steers the exclusive gateways
(``pilih == 1`` loops back, ``pilih == 2`` takes the other branch, anything else the default), ``berkas`` is a list
(as uploads are) so that SpiffWorkflow's merging of list data at joins is exercised too.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

#: What a completed user task may submit in these diagrams (one value drawn per key).
CHOICES = {"pilih": [1, 1, 0, 2], "berkas": [[], ["a"], ["a", "b"], ["c"]]}  # loop back half of the time
#: Initial case data: the scripts count rounds and record the choices.
INITIAL = {"putaran": 0, "riwayat": [], "pilih": 0, "berkas": []}

LOOP = "pilih == 1"
OTHER = "pilih == 2"
COUNT = "putaran = putaran + 1\nriwayat = riwayat + [pilih]"


@dataclass
class Diagram:
    """A process under construction: nodes in order, sequence flows, lanes (by node)."""

    key: str
    nodes: dict[str, tuple[str, dict, str]] = field(default_factory=dict)
    flows: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    lanes: dict[str, str | None] = field(default_factory=dict)
    signals: set[str] = field(default_factory=set)
    #: The sub-process each node is drawn in (None: the process itself).
    within: dict[str, str | None] = field(default_factory=dict)
    _inside: list[str] = field(default_factory=list)

    def _add(self, node_id: str, tag: str, attrs: dict | None = None, inner: str = "", lane: str = "Tim") -> str:
        assert node_id not in self.nodes, node_id
        self.nodes[node_id] = (tag, attrs or {}, inner)
        # Inside a sub-process a node is in no lane of its own, as bpmn-js draws it: it works in the sub-process's.
        self.within[node_id] = self._inside[-1] if self._inside else None
        self.lanes[node_id] = None if self._inside else lane
        return node_id

    @contextmanager
    def inside(self, sub_id: str):
        """Nodes added in this block are drawn inside the sub-process ``sub_id``."""
        self._inside.append(sub_id)
        try:
            yield
        finally:
            self._inside.pop()

    # -- nodes
    def start(self, node_id: str = "Mulai", kind: str | None = None, value: str = "PT1H",
              signal: str = "Sinyal") -> str:
        return self._add(node_id, "startEvent", inner=self._definition(node_id, kind, signal, value))

    def user(self, node_id: str, lane: str = "Tim") -> str:
        return self._add(node_id, "userTask", {"name": node_id}, lane=lane)

    def manual(self, node_id: str, lane: str = "Tim") -> str:
        return self._add(node_id, "manualTask", {"name": node_id}, lane=lane)

    def task(self, node_id: str, lane: str = "Tim") -> str:
        """An untyped task (``bpmn:task``)."""
        return self._add(node_id, "task", {"name": node_id}, lane=lane)

    def sub(self, node_id: str, lane: str = "Tim") -> str:
        """An embedded sub-process; add its nodes in ``with d.inside(node_id):``."""
        return self._add(node_id, "subProcess", {"name": node_id}, lane=lane)

    def script(self, node_id: str, code: str = COUNT) -> str:
        script = f"<bpmn:script>{escape(code)}</bpmn:script>"
        return self._add(node_id, "scriptTask", {"scriptFormat": "python"}, script)

    def xor(self, node_id: str, default: str | None = None) -> str:
        return self._add(node_id, "exclusiveGateway", {"default": default} if default else {})

    def par(self, node_id: str) -> str:
        return self._add(node_id, "parallelGateway")

    def ior(self, node_id: str, default: str | None = None) -> str:
        return self._add(node_id, "inclusiveGateway", {"default": default} if default else {})

    def end(self, node_id: str, kind: str | None = None, signal: str = "Sinyal") -> str:
        return self._add(node_id, "endEvent", inner=self._definition(node_id, kind, signal))

    def throw(self, node_id: str, signal: str = "Sinyal", kind: str | None = "signal") -> str:
        return self._add(node_id, "intermediateThrowEvent", inner=self._definition(node_id, kind, signal))

    def catch(self, node_id: str, kind: str = "timer", value: str = "PT3H", signal: str = "Sinyal") -> str:
        return self._add(node_id, "intermediateCatchEvent", inner=self._definition(node_id, kind, signal, value))

    def boundary(self, node_id: str, attached: str, kind: str = "timer", value: str = "PT2H", *,
                 interrupting: bool = False, signal: str = "Sinyal") -> str:
        attrs = {"attachedToRef": attached, "cancelActivity": "true" if interrupting else "false"}
        return self._add(node_id, "boundaryEvent", attrs, self._definition(node_id, kind, signal, value),
                         lane=self.lanes[attached])

    def _definition(self, node_id: str, kind: str | None, signal: str, value: str = "") -> str:
        if kind is None:
            return ""
        if kind == "signal":
            self.signals.add(signal)
            return f'<bpmn:signalEventDefinition id="{node_id}_def" signalRef="{signal}"/>'
        if kind == "timer":
            tag = "timeDate" if value[:1].isdigit() else "timeDuration"
            return (f'<bpmn:timerEventDefinition id="{node_id}_def"><bpmn:{tag}>{escape(value)}</bpmn:{tag}>'
                    "</bpmn:timerEventDefinition>")
        return f'<bpmn:{kind}EventDefinition id="{node_id}_def"/>'

    # -- flows
    def flow(self, source: str, target: str, condition: str | None = None) -> str:
        flow_id = f"Flow_{source}_{target}"
        self.flows.append((flow_id, source, target, condition))
        return flow_id

    def chain(self, *node_ids: str) -> None:
        for source, target in zip(node_ids, node_ids[1:]):
            self.flow(source, target)

    def xml(self) -> str:
        incoming: dict[str, list[str]] = {n: [] for n in self.nodes}
        outgoing: dict[str, list[str]] = {n: [] for n in self.nodes}
        for flow_id, source, target, _ in self.flows:
            assert self.within[source] == self.within[target], (source, target)
            outgoing[source].append(flow_id)
            incoming[target].append(flow_id)
        by_lane: dict[str, list[str]] = {}
        for node_id, lane in self.lanes.items():
            if lane is not None:
                by_lane.setdefault(lane, []).append(node_id)
        out = ['<?xml version="1.0" encoding="UTF-8"?>',
               f'<bpmn:definitions xmlns:bpmn="{BPMN_NS}" id="Defs_{self.key}" '
               'targetNamespace="http://example.org/alur/prune-corpus">']
        out += [f'  <bpmn:signal id="{s}" name="{s}"/>' for s in sorted(self.signals)]
        out.append(f'  <bpmn:process id="{self.key}" isExecutable="true">')
        out.append(f'    <bpmn:laneSet id="LaneSet_{self.key}">')
        for lane, members in by_lane.items():
            refs = "".join(f"<bpmn:flowNodeRef>{m}</bpmn:flowNodeRef>" for m in members)
            out.append(f'      <bpmn:lane id="Lane_{lane}" name="{lane}">{refs}</bpmn:lane>')
        out.append("    </bpmn:laneSet>")
        out += self._content(None, incoming, outgoing, "    ")
        out += ["  </bpmn:process>", "</bpmn:definitions>", ""]
        return "\n".join(out)

    def _content(self, container: str | None, incoming: dict, outgoing: dict, indent: str) -> list[str]:
        """The nodes and flows drawn directly in ``container`` (a sub-process, or the process)."""
        out = []
        for node_id, (tag, attrs, inner) in self.nodes.items():
            if self.within[node_id] != container:
                continue
            attributes = "".join(f" {k}={quoteattr(v)}" for k, v in attrs.items())
            links = ("".join(f"<bpmn:incoming>{f}</bpmn:incoming>" for f in incoming[node_id])
                     + "".join(f"<bpmn:outgoing>{f}</bpmn:outgoing>" for f in outgoing[node_id]))
            if tag == "subProcess":
                out.append(f'{indent}<bpmn:{tag} id="{node_id}"{attributes}>{links}')
                out += self._content(node_id, incoming, outgoing, indent + "  ")
                out.append(f"{indent}</bpmn:{tag}>")
            else:
                out.append(f'{indent}<bpmn:{tag} id="{node_id}"{attributes}>{links}{inner}</bpmn:{tag}>')
        for flow_id, source, target, condition in self.flows:
            if self.within[source] != container:
                continue
            body = f"<bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>" if condition else ""
            out.append(f'{indent}<bpmn:sequenceFlow id="{flow_id}" sourceRef="{source}" targetRef="{target}">'
                       f"{body}</bpmn:sequenceFlow>")
        return out


def _decide(d: Diagram, gateway: str, *, loop_to: str, default_to: str, other_to: str | None = None) -> None:
    """An exclusive gateway with a condition back into the loop, perhaps another branch, and a default."""
    d.nodes[gateway][1]["default"] = d.flow(gateway, default_to)
    d.flow(gateway, loop_to, LOOP)
    if other_to is not None:
        d.flow(gateway, other_to, OTHER)


def sequence() -> Diagram:
    """User tasks in two lanes and a script task, no branching."""
    d = Diagram("urutan")
    d.start(), d.user("Isi"), d.script("Hitung"), d.user("Periksa", "Admin"), d.end("Selesai")
    d.chain("Mulai", "Isi", "Hitung", "Periksa", "Selesai")
    return d


def exclusive_loop() -> Diagram:
    """The SOP's shape: a loop back through an exclusive merge, a condition, another branch and a default."""
    d = Diagram("putaran_eksklusif")
    d.start(), d.xor("Masuk"), d.user("Kerjakan"), d.script("Hitung"), d.xor("Hasil")
    d.user("Tinjau", "Admin"), d.end("Selesai"), d.end("Ditinjau")
    d.chain("Mulai", "Masuk", "Kerjakan", "Hitung", "Hasil")
    _decide(d, "Hasil", loop_to="Masuk", default_to="Selesai", other_to="Tinjau")
    d.flow("Tinjau", "Ditinjau")
    return d


def parallel_merge_loop() -> Diagram:
    """Issue 13's case: the loop comes back through a parallel gateway used as its merge."""
    d = Diagram("putaran_paralel")
    d.start(), d.user("Awal"), d.par("Gabung"), d.user("Ulangi", "Admin"), d.xor("Lagi"), d.end("Selesai")
    d.chain("Mulai", "Awal", "Gabung", "Ulangi", "Lagi")
    _decide(d, "Lagi", loop_to="Gabung", default_to="Selesai")
    return d


def parallel_region() -> Diagram:
    """A parallel split into a user task per lane and a script, joined again."""
    d = Diagram("wilayah_paralel")
    d.start(), d.user("Awal"), d.par("Pecah"), d.user("Foto"), d.user("Naskah", "Admin"), d.script("Hitung")
    d.par("Satukan"), d.user("Akhir", "Admin"), d.end("Selesai")
    d.chain("Mulai", "Awal", "Pecah")
    for branch in ("Foto", "Naskah", "Hitung"):
        d.chain("Pecah", branch, "Satukan")
    d.chain("Satukan", "Akhir", "Selesai")
    return d


def parallel_region_loop(branches: int = 2) -> Diagram:
    """A loop that re-enters a parallel region through an exclusive merge before the split."""
    d = Diagram(f"putaran_wilayah_{branches}")
    d.start(), d.xor("Masuk"), d.par("Pecah"), d.par("Satukan"), d.user("Akhir", "Admin"), d.xor("Lagi")
    d.end("Selesai")
    d.chain("Mulai", "Masuk", "Pecah")
    for i in range(branches):
        task = d.user(f"Cabang{i}", "Tim" if i % 2 == 0 else "Admin")
        d.chain("Pecah", task, "Satukan")
    d.chain("Satukan", "Akhir", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Selesai")
    return d


def parallel_split_reentry() -> Diagram:
    """A loop back into the parallel split itself (the split also merges), and a script branch."""
    d = Diagram("masuk_pecah")
    d.start(), d.user("Awal"), d.par("Pecah"), d.user("Foto"), d.script("Hitung"), d.par("Satukan")
    d.user("Akhir", "Admin"), d.xor("Lagi"), d.end("Selesai")
    d.chain("Mulai", "Awal", "Pecah")
    for branch in ("Foto", "Hitung"):
        d.chain("Pecah", branch, "Satukan")
    d.chain("Satukan", "Akhir", "Lagi")
    _decide(d, "Lagi", loop_to="Pecah", default_to="Selesai")
    return d


def join_with_loop_input() -> Diagram:
    """A parallel join with three inputs: two branches and a loop back."""
    d = Diagram("gabung_tiga")
    d.start(), d.par("Pecah"), d.user("Kiri"), d.user("Kanan", "Admin"), d.par("Gabung"), d.user("Ulangi")
    d.xor("Lagi"), d.end("Selesai")
    d.chain("Mulai", "Pecah")
    for branch in ("Kiri", "Kanan"):
        d.chain("Pecah", branch, "Gabung")
    d.chain("Gabung", "Ulangi", "Lagi")
    _decide(d, "Lagi", loop_to="Gabung", default_to="Selesai")
    return d


def nested_loops() -> Diagram:
    """An exclusive loop inside an exclusive loop, the inner one also counted by a script."""
    d = Diagram("putaran_bersarang")
    d.start(), d.xor("MasukLuar"), d.user("Luar"), d.xor("MasukDalam"), d.user("Dalam", "Admin")
    d.script("Hitung"), d.xor("LagiDalam"), d.xor("LagiLuar"), d.end("Selesai")
    d.chain("Mulai", "MasukLuar", "Luar", "MasukDalam", "Dalam", "Hitung", "LagiDalam")
    _decide(d, "LagiDalam", loop_to="MasukDalam", default_to="LagiLuar")
    d.nodes["LagiLuar"][1]["default"] = d.flow("LagiLuar", "Selesai")
    d.flow("LagiLuar", "MasukLuar", "pilih == 0")
    return d


def nested_parallel_loops() -> Diagram:
    """A loop through a parallel join nested in an exclusive loop, and a loop inside one parallel branch."""
    d = Diagram("putaran_paralel_bersarang")
    d.start(), d.xor("MasukLuar"), d.user("Luar"), d.par("Gabung"), d.user("Dalam", "Admin"), d.xor("LagiDalam")
    d.par("Pecah"), d.xor("MasukCabang"), d.user("Cabang"), d.xor("LagiCabang"), d.user("Samping", "Admin")
    d.par("Satukan"), d.xor("LagiLuar"), d.end("Selesai")
    d.chain("Mulai", "MasukLuar", "Luar", "Gabung", "Dalam", "LagiDalam")
    _decide(d, "LagiDalam", loop_to="Gabung", default_to="Pecah")
    d.chain("Pecah", "MasukCabang", "Cabang", "LagiCabang")
    _decide(d, "LagiCabang", loop_to="MasukCabang", default_to="Satukan")
    d.chain("Pecah", "Samping", "Satukan")
    d.chain("Satukan", "LagiLuar")
    d.nodes["LagiLuar"][1]["default"] = d.flow("LagiLuar", "Selesai")
    d.flow("LagiLuar", "MasukLuar", "pilih == 0")
    return d


def timers_noninterrupting() -> Diagram:
    """The SOP's deadlines: non-interrupting timers on tasks in a loop, one path ending at once (the overdue
    mark), one going through a user task and a signal, and a date timer."""
    d = Diagram("tenggat")
    d.start(), d.xor("Masuk"), d.user("Kerjakan"), d.user("Setujui", "Admin"), d.xor("Lagi"), d.end("Selesai")
    d.boundary("Tenggat", "Kerjakan", value="PT2H"), d.throw("Lapor"), d.end("Terlambat")
    d.boundary("TenggatSetujui", "Setujui", value="P1D"), d.user("Tegur", "Admin"), d.end("Ditegur")
    d.boundary("TenggatTanggal", "Kerjakan", value="2025-05-06T12:00:00+07:00"), d.end("LewatTanggal")
    d.chain("Mulai", "Masuk", "Kerjakan", "Setujui", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Selesai")
    d.chain("Tenggat", "Lapor", "Terlambat")
    d.chain("TenggatSetujui", "Tegur", "Ditegur")
    d.chain("TenggatTanggal", "LewatTanggal")
    return d


def timers_interrupting() -> Diagram:
    """An interrupting timer that takes the case back into the loop, and one that ends it."""
    d = Diagram("tenggat_putus")
    d.start(), d.xor("Masuk"), d.user("Kerjakan"), d.user("Setujui", "Admin"), d.xor("Lagi"), d.end("Selesai")
    d.boundary("Habis", "Kerjakan", value="PT2H", interrupting=True), d.script("Catat")
    d.boundary("Batal", "Setujui", value="P1D", interrupting=True), d.end("Dibatalkan")
    d.chain("Mulai", "Masuk", "Kerjakan", "Setujui", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Selesai")
    d.chain("Habis", "Catat", "Masuk")
    d.chain("Batal", "Dibatalkan")
    return d


def timer_catch() -> Diagram:
    """Intermediate timer events: in sequence, in a parallel branch, and in a loop."""
    d = Diagram("tunggu")
    d.start(), d.user("Awal"), d.catch("Jeda", value="PT3H"), d.xor("Masuk"), d.par("Pecah")
    d.catch("JedaCabang", value="P1D"), d.user("Cabang"), d.user("Samping", "Admin"), d.par("Satukan")
    d.catch("JedaUlang", value="PT1H"), d.xor("Lagi"), d.end("Selesai")
    d.chain("Mulai", "Awal", "Jeda", "Masuk", "Pecah", "JedaCabang", "Cabang", "Satukan")
    d.chain("Pecah", "Samping", "Satukan")
    d.chain("Satukan", "Lagi")
    d.nodes["Lagi"][1]["default"] = d.flow("Lagi", "Selesai")
    d.flow("Lagi", "JedaUlang", LOOP)
    d.flow("JedaUlang", "Masuk")
    return d


def signals() -> Diagram:
    """Signals between parallel branches in a loop: a throw, an intermediate catch, interrupting and
    non-interrupting signal boundary events, a signal end event."""
    d = Diagram("sinyal")
    d.start(), d.xor("Masuk"), d.par("Pecah"), d.user("Kirim"), d.throw("Lempar", "Isyarat")
    d.catch("Tangkap", "signal", signal="Isyarat"), d.user("Lanjut", "Admin")
    d.user("Tunggu", "Admin"), d.boundary("Disela", "Tunggu", "signal", interrupting=True, signal="Isyarat")
    d.user("Pantau"), d.boundary("Diberi", "Pantau", "signal", signal="Isyarat"), d.end("Diberitahu")
    d.xor("Susul"), d.par("Satukan"), d.xor("Lagi"), d.end("Selesai", "signal", "Tamat")
    d.chain("Mulai", "Masuk", "Pecah", "Kirim", "Lempar", "Satukan")
    d.chain("Pecah", "Tangkap", "Lanjut", "Satukan")
    d.chain("Pecah", "Tunggu", "Susul", "Satukan")
    d.flow("Disela", "Susul")
    d.chain("Pecah", "Pantau", "Satukan")
    d.flow("Diberi", "Diberitahu")
    d.chain("Satukan", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Selesai")
    return d


def end_kinds() -> Diagram:
    """End events of every accepted kind; the terminate end in a parallel branch ends the other one."""
    d = Diagram("akhir")
    d.start(), d.xor("Masuk"), d.par("Pecah"), d.user("Kiri"), d.xor("Pilih"), d.end("Berhenti", "terminate")
    d.end("Galat", "error"), d.end("Eskalasi", "escalation"), d.end("Biasa"), d.user("Kanan", "Admin")
    d.xor("Lagi"), d.end("Sinyal", "signal", "Tamat")
    d.chain("Mulai", "Masuk", "Pecah", "Kiri", "Pilih")
    d.nodes["Pilih"][1]["default"] = d.flow("Pilih", "Biasa")
    d.flow("Pilih", "Berhenti", "pilih == 0")
    d.flow("Pilih", "Galat", "pilih == 2 and len(berkas) == 1")
    d.flow("Pilih", "Eskalasi", "pilih == 2 and len(berkas) == 2")
    d.chain("Pecah", "Kanan", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Sinyal")
    return d


def everything_in_a_loop() -> Diagram:
    """Deadlines on tasks in a parallel region inside a loop through a parallel join, SOP-style."""
    d = Diagram("campuran")
    d.start(), d.user("Awal"), d.par("Gabung"), d.par("Pecah"), d.user("Foto"), d.user("Naskah", "Admin")
    d.boundary("TenggatFoto", "Foto", value="PT2H"), d.end("FotoTerlambat")
    d.boundary("TenggatNaskah", "Naskah", value="P1D", interrupting=True), d.script("Catat")
    d.xor("Susul"), d.par("Satukan"), d.user("Putuskan", "Admin"), d.xor("Lagi"), d.end("Selesai")
    d.chain("Mulai", "Awal", "Gabung", "Pecah", "Foto", "Satukan")
    d.chain("Pecah", "Naskah", "Susul", "Satukan")
    d.chain("TenggatFoto", "FotoTerlambat")
    d.chain("TenggatNaskah", "Catat", "Susul")
    d.chain("Satukan", "Putuskan", "Lagi")
    _decide(d, "Lagi", loop_to="Gabung", default_to="Selesai")
    return d


def starts_and_events() -> Diagram:
    """Several start events (a none start, and a signal start the process itself throws), error and escalation
    boundary events, and escalation and none throw events, in a loop through a parallel region."""
    d = Diagram("peristiwa")
    d.start(), d.start("MulaiUlang", "signal", signal="Ulang"), d.xor("Masuk"), d.par("Pecah"), d.user("Kirim")
    d.throw("Naik", kind="escalation"), d.throw("Kosong", kind=None), d.user("Tunggu", "Admin")
    d.boundary("Galat", "Tunggu", "error", interrupting=True), d.boundary("Eskalasi", "Tunggu", "escalation")
    d.end("GagalTunggu"), d.end("Dieskalasi"), d.par("Satukan"), d.xor("Lagi"), d.throw("Ulangi", "Ulang")
    d.end("Selesai"), d.end("Diulang")
    d.chain("Mulai", "Masuk", "Pecah", "Kirim", "Naik", "Kosong", "Satukan")
    d.flow("MulaiUlang", "Masuk")
    d.chain("Pecah", "Tunggu", "Satukan")
    d.flow("Galat", "GagalTunggu")
    d.flow("Eskalasi", "Dieskalasi")
    d.chain("Satukan", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Selesai", other_to="Ulangi")
    d.flow("Ulangi", "Diulang")
    return d


def timer_start() -> Diagram:
    """A process that starts when its start timer fires, then loops through an exclusive merge."""
    d = Diagram("mulai_waktu")
    d.start(kind="timer", value="PT1H"), d.xor("Masuk"), d.user("Kerjakan"), d.xor("Lagi"), d.end("Selesai")
    d.chain("Mulai", "Masuk", "Kerjakan", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Selesai")
    return d


def passing_tasks() -> Diagram:
    """Untyped and manual tasks: in sequence, in a loop, and in a parallel branch; they complete when reached."""
    d = Diagram("tugas_lewat")
    d.start(), d.task("Catat"), d.xor("Masuk"), d.user("Kerjakan"), d.manual("Kirim"), d.xor("Lagi")
    d.par("Pecah"), d.manual("Cetak", "Admin"), d.task("Arsip"), d.user("Samping", "Admin"), d.par("Satukan")
    d.end("Selesai")
    d.chain("Mulai", "Catat", "Masuk", "Kerjakan", "Kirim", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Pecah")
    d.chain("Pecah", "Cetak", "Arsip", "Satukan")
    d.chain("Pecah", "Samping", "Satukan")
    d.chain("Satukan", "Selesai")
    return d


def _inclusive_region(d: Diagram, split: str, join: str) -> None:
    """An inclusive split into a default branch and two conditional ones (one with a deadline, one through an
    exclusive gateway), joined by an inclusive gateway."""
    d.ior(split), d.user("Kiri"), d.user("Kanan", "Admin"), d.boundary("TenggatKanan", "Kanan", value="PT2H")
    d.end("KananTerlambat"), d.user("Tengah"), d.xor("Pilah"), d.user("Tambahan", "Admin"), d.xor("Rapikan")
    d.script("Hitung"), d.ior(join)
    d.nodes[split][1]["default"] = d.flow(split, "Kiri")
    d.flow(split, "Kanan", LOOP)
    d.flow(split, "Tengah", "len(berkas) >= 1")
    d.chain("Kiri", join), d.chain("Kanan", join), d.flow("TenggatKanan", "KananTerlambat")
    d.chain("Tengah", "Pilah")
    d.nodes["Pilah"][1]["default"] = d.flow("Pilah", "Rapikan")
    d.flow("Pilah", "Tambahan", OTHER)
    d.chain("Tambahan", "Rapikan", "Hitung", join)


def inclusive() -> Diagram:
    """An inclusive split and join (conditions and a default), the join waiting for the branches taken only."""
    d = Diagram("inklusif")
    d.start(), d.user("Awal")
    _inclusive_region(d, "Sebar", "Kumpul")
    d.user("Akhir", "Admin"), d.end("Selesai")
    d.chain("Mulai", "Awal", "Sebar")
    d.chain("Kumpul", "Akhir", "Selesai")
    return d


def inclusive_leaving() -> Diagram:
    """Inclusive branches that may leave before the join: an interrupting deadline to an end event, an exclusive
    gateway with a way out; and a sub-process as a branch. The join goes on once no branch taken can still come."""
    d = Diagram("inklusif_keluar")
    d.start(), d.user("Awal"), d.ior("Sebar"), d.user("Kiri"), d.user("Kanan", "Admin")
    d.boundary("Habis", "Kanan", value="PT2H", interrupting=True), d.end("KananHabis"), d.user("Tengah")
    d.xor("Pilah"), d.end("TengahKeluar"), d.sub("Bagian", "Admin")
    with d.inside("Bagian"):
        d.start("MulaiBagian"), d.user("Isi"), d.end("SelesaiBagian")
        d.chain("MulaiBagian", "Isi", "SelesaiBagian")
    d.ior("Kumpul"), d.user("Akhir", "Admin"), d.end("Selesai")
    d.chain("Mulai", "Awal", "Sebar")
    d.nodes["Sebar"][1]["default"] = d.flow("Sebar", "Kiri")
    d.flow("Sebar", "Kanan", LOOP)
    d.flow("Sebar", "Tengah", "len(berkas) >= 1")
    d.flow("Sebar", "Bagian", "len(berkas) == 2")
    d.chain("Kiri", "Kumpul"), d.chain("Kanan", "Kumpul"), d.flow("Habis", "KananHabis")
    d.chain("Tengah", "Pilah")
    d.nodes["Pilah"][1]["default"] = d.flow("Pilah", "Kumpul")
    d.flow("Pilah", "TengahKeluar", OTHER)
    d.chain("Bagian", "Kumpul")
    d.chain("Kumpul", "Akhir", "Selesai")
    return d


def inclusive_loop() -> Diagram:
    """The same region in a loop: refused at deploy (gateway.inclusive_loop), and pruning still changes nothing."""
    d = Diagram("putaran_inklusif")
    d.start(), d.xor("Masuk"), d.user("Awal")
    _inclusive_region(d, "Sebar", "Kumpul")
    d.user("Akhir", "Admin"), d.xor("Lagi"), d.end("Selesai")
    d.chain("Mulai", "Masuk", "Awal", "Sebar")
    d.chain("Kumpul", "Akhir", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Selesai")
    return d


def inclusive_split_loop() -> Diagram:
    """An inclusive gateway that only splits, in a loop, its branches merged by an exclusive gateway and ended."""
    d = Diagram("sebar_putaran")
    d.start(), d.xor("Masuk"), d.user("Awal"), d.ior("Sebar"), d.user("Kiri"), d.user("Kanan", "Admin")
    d.end("KananSelesai"), d.xor("Lagi"), d.end("Selesai")
    d.chain("Mulai", "Masuk", "Awal", "Sebar")
    d.nodes["Sebar"][1]["default"] = d.flow("Sebar", "Kiri")
    d.flow("Sebar", "Kanan", "len(berkas) >= 1")
    d.chain("Kanan", "KananSelesai")
    d.chain("Kiri", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Selesai")
    return d


def subprocesses() -> Diagram:
    """An embedded sub-process in a loop (in one branch of a parallel region): user tasks inside (a deadline, a loop
    of its own, a parallel region, a manual task), a nested sub-process, a signal thrown inside and caught in the
    other branch, an interrupting timer on the sub-process back into the loop, a non-interrupting one, and an error
    end caught on the sub-process's border."""
    d = Diagram("sub_proses")
    d.start(), d.par("Pecah"), d.xor("Masuk"), d.sub("Produksi", "Admin")
    with d.inside("Produksi"):
        d.start("MulaiProduksi"), d.xor("MasukDalam"), d.user("Foto"), d.boundary("TenggatFoto", "Foto", value="PT2H")
        d.end("FotoTerlambat"), d.xor("LagiDalam"), d.par("PecahDalam"), d.user("Naskah"), d.manual("Cetak")
        d.par("SatukanDalam"), d.sub("Sunting"), d.throw("Kabari", "Isyarat"), d.xor("Gagal")
        d.end("SelesaiProduksi"), d.end("Galat", "error")
        with d.inside("Sunting"):
            d.start("MulaiSunting"), d.user("Periksa"), d.script("Hitung"), d.end("SelesaiSunting")
            d.chain("MulaiSunting", "Periksa", "Hitung", "SelesaiSunting")
        d.chain("MulaiProduksi", "MasukDalam", "Foto", "LagiDalam")
        d.flow("TenggatFoto", "FotoTerlambat")
        d.nodes["LagiDalam"][1]["default"] = d.flow("LagiDalam", "PecahDalam")
        d.flow("LagiDalam", "MasukDalam", "pilih == 1 and len(berkas) == 1")
        d.chain("PecahDalam", "Naskah", "SatukanDalam")
        d.chain("PecahDalam", "Cetak", "SatukanDalam")
        d.chain("SatukanDalam", "Sunting", "Kabari", "Gagal")
        d.nodes["Gagal"][1]["default"] = d.flow("Gagal", "SelesaiProduksi")
        d.flow("Gagal", "Galat", OTHER)
    d.boundary("Batas", "Produksi", value="P1D", interrupting=True), d.script("Catat")
    d.boundary("Ingatkan", "Produksi", value="PT3H"), d.end("Diingatkan")
    d.boundary("Gagalnya", "Produksi", "error", interrupting=True), d.user("Perbaiki", "Admin")
    d.xor("Susul"), d.user("Putuskan", "Admin"), d.xor("Lagi")
    d.user("Pantau"), d.boundary("Diberi", "Pantau", "signal", signal="Isyarat"), d.end("Diberitahu")
    d.par("Satukan"), d.end("Selesai")
    d.chain("Mulai", "Pecah", "Masuk", "Produksi", "Susul", "Putuskan", "Lagi")
    _decide(d, "Lagi", loop_to="Masuk", default_to="Satukan")
    d.chain("Batas", "Catat", "Susul")
    d.flow("Ingatkan", "Diingatkan")
    d.chain("Gagalnya", "Perbaiki", "Susul")
    d.chain("Pecah", "Pantau", "Satukan")
    d.flow("Diberi", "Diberitahu")
    d.chain("Satukan", "Selesai")
    return d


def subprocess_branches() -> Diagram:
    """A sub-process whose parallel branches end at end events of their own (the data of each goes back to the
    process), beside an inclusive region in the process."""
    d = Diagram("sub_cabang")
    d.start(), d.user("Awal"), d.sub("Kerja"), d.user("Akhir", "Admin"), d.end("Selesai")
    with d.inside("Kerja"):
        d.start("MulaiKerja"), d.par("Pecah"), d.user("Kiri"), d.end("KiriSelesai"), d.user("Kanan")
        d.task("Tandai"), d.end("KananSelesai")
        d.chain("MulaiKerja", "Pecah", "Kiri", "KiriSelesai")
        d.chain("Pecah", "Kanan", "Tandai", "KananSelesai")
    d.chain("Mulai", "Awal", "Kerja", "Akhir", "Selesai")
    return d


CORPUS = {d.key: d for d in (
    sequence(), exclusive_loop(), parallel_merge_loop(), parallel_region(), parallel_region_loop(2),
    parallel_region_loop(3), parallel_split_reentry(), join_with_loop_input(), nested_loops(),
    nested_parallel_loops(), timers_noninterrupting(), timers_interrupting(), timer_catch(), signals(), end_kinds(),
    everything_in_a_loop(), starts_and_events(), timer_start(), passing_tasks(), inclusive(), inclusive_leaving(),
    inclusive_loop(), inclusive_split_loop(), subprocesses(), subprocess_branches(),
)}
