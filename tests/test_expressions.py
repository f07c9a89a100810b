"""The safe expression engine: what diagrams may say, and what they may not."""
from __future__ import annotations

import time
from datetime import datetime

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser import BpmnParser
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.exceptions import WorkflowException

from engine.expressions import (
    DEFAULT_FUNCTIONS,
    ISO_TIMER_VALUE,
    ExpressionLimitExceeded,
    FunctionRegistry,
    SafeFunction,
    SafeScriptEnvironment,
    UnknownName,
    UnsafeExpression,
    check_expression,
    check_script,
    evaluate,
    execute,
)

pytestmark = pytest.mark.nodb  # the expression engine on in-memory SpiffWorkflow workflows: no database

DATA = {
    "keputusan_pimred": "setuju",
    "jumlah_revisi": 2,
    "skor": 7.5,
    "data": {"a": [10, 20, 30], "judul": "Sosialisasi"},
    "platform": ["instagram", "x"],
    "catatan": None,
    "x": 1,
    "y": "teks",
}


def akhir_hari(tanggal: str, tambah_hari: int = 0) -> str:
    return f"{tanggal}T23:59:59+07:00" if tambah_hari == 0 else f"{tanggal}+{tambah_hari}"


SOP_FUNCTIONS = DEFAULT_FUNCTIONS.merged(FunctionRegistry([SafeFunction("akhir_hari", akhir_hari, "end of day")]))


# ------------------------------------------------------------------------------------------- legit

@pytest.mark.parametrize(("source", "expected"), [
    ('keputusan_pimred == "setuju"', True),
    ('keputusan_pimred != "setuju"', False),
    ('keputusan_pimred in ["setuju", "revisi"]', True),
    ('"tiktok" not in platform', True),
    ("jumlah_revisi >= 2 and skor > 7", True),
    ("not (jumlah_revisi < 3) or catatan is None", True),
    ("catatan is not None", False),
    ("0 < jumlah_revisi <= 3", True),
    ("jumlah_revisi * 3 + 1 - 2 / 4", 6.5),
    ("7 // 2 + 7 % 2 + 2 ** 10 + -x + +x", 1028),
    ('data["a"][0] + data["a"][-1]', 40),
    ('data["judul"]', "Sosialisasi"),
    ("platform[x]", "x"),
    ('"ya" if skor > 5 else "tidak"', "ya"),
    ('len(platform) == 2 and contains(platform, "x")', True),
    ('max(1, jumlah_revisi, 3) + min([4, 5]) + abs(-2) + round(2.567, 2)', 11.57),
    ('upper(strip("  ok ")) + lower("AB") + str(int("3")) + str(float(1)) + str(bool(0))', "OKab31.0False"),
    ("round(2.5)", 2),
    ('{"a": [1, 2], "b": (3, None)}["b"][0]', 3),
    ("'abc' * 3 + 'd'", "abcabcabcd"),
    ("[0] * 3 + [1]", [0, 0, 0, 1]),
])
def test_legit_expressions(source, expected):
    check_expression(source)
    assert evaluate(source, DATA) == expected


def test_boolean_operators_short_circuit_like_python():
    assert evaluate("catatan or 'kosong'", DATA) == "kosong"
    assert evaluate("catatan and missing_name", DATA) is None  # right side never evaluated
    assert evaluate("x or missing_name", DATA) == 1


def test_custom_registry_function():
    source = 'akhir_hari("2025-05-06")'
    check_expression(source, SOP_FUNCTIONS)
    assert evaluate(source, DATA, SOP_FUNCTIONS) == "2025-05-06T23:59:59+07:00"
    assert evaluate('akhir_hari("2025-05-06", tambah_hari=2)', DATA, SOP_FUNCTIONS) == "2025-05-06+2"
    with pytest.raises(UnsafeExpression, match="not a registered function"):
        check_expression(source)  # not in the default registry


def test_function_results_may_be_datetimes_but_nothing_else():
    reg = DEFAULT_FUNCTIONS.merged(FunctionRegistry([
        SafeFunction("sekarang", lambda: datetime(2025, 5, 6, 12, 0)),
        SafeFunction("bocor", lambda: object()),
    ]))
    assert evaluate("sekarang() < sekarang()", {}, reg) is False
    with pytest.raises(UnsafeExpression, match="object"):
        evaluate("bocor()", {}, reg)


@pytest.mark.parametrize("value", [
    "P1D", "PT36H", "P1DT2H", "P2W", "P1Y2M3DT4H5M6S", "PT0.5S",
    "2025-05-06", "2025-12-31T23:59:59+07:00", "2025-05-06T23:59:59Z", "2025-05-06T10:00",
    "R3/PT1H", "R/2025-05-06T00:00:00+07:00/P1D", "R/P1D", "R2/P1D/2025-05-06",
])
def test_bare_timer_values_are_strings(value):
    assert ISO_TIMER_VALUE.fullmatch(value)
    check_expression(value)
    assert evaluate(value, DATA) == value
    assert evaluate(f"  {value}\n", DATA) == value


@pytest.mark.parametrize("value", ["P", "PT", "P1DT", "P1H", "2025-5-6", "R3", "R3/", "PT36H + x", "x"])
def test_not_timer_values(value):
    assert not ISO_TIMER_VALUE.fullmatch(value)


def test_quoted_timer_expressions_still_work():
    assert evaluate('"P" + str(x) + "D"', DATA) == "P1D"


def test_script_assigns_top_level_keys():
    data = {"a": 2, "nested": {"k": 1}}
    script = 'b = a * 10\nc = b + 1\nnested = {"k": nested["k"] + 1}\nlabel = "n" + str(c)'
    check_script(script)
    execute(script, data)
    assert data == {"a": 2, "b": 20, "c": 21, "nested": {"k": 2}, "label": "n21"}


def test_failed_script_writes_nothing():
    data = {"a": 1}
    with pytest.raises(UnknownName, match="name 'missing' is not defined"):
        execute("b = 2\nc = missing", data)
    assert data == {"a": 1}


@pytest.mark.parametrize(("script", "reason"), [
    ("x += 1", "augmented assignment"),
    ("a = b = 1", "one plain name"),
    ("a, b = 1, 2", "one plain name"),
    ('data["k"] = 1', "one plain name"),
    ("len = 3", "registered function"),
    ("_x = 1", "not allowed"),
    ("type = 1", "builtin"),
    ("x", "bare expression"),
    ("for i in [1]:\n    x = i", "For statements"),
    ("def f():\n    return 1", "FunctionDef"),
    ("from os import system", "import"),
])
def test_script_shape_is_restricted(script, reason):
    with pytest.raises(UnsafeExpression, match=reason):
        check_script(script)


def test_unknown_name_and_function_as_value():
    with pytest.raises(UnknownName, match="name 'nope' is not defined"):
        evaluate("nope == 1", DATA)
    with pytest.raises(UnsafeExpression, match="can only be called"):
        evaluate("len", DATA)


def test_ordinary_data_errors_stay_ordinary():
    with pytest.raises(KeyError):
        evaluate('data["missing"]', DATA)
    with pytest.raises(ZeroDivisionError):
        evaluate("x / 0", DATA)
    with pytest.raises(TypeError):
        evaluate('y + 1', DATA)


def test_registry_rules():
    reg = FunctionRegistry()
    reg.register("satu", lambda: 1, "one")
    assert reg.names() == frozenset({"satu"}) and reg.get("satu")() == 1 and reg.get("dua") is None
    for bad in ("_x", "Satu", "__import__", "a-b"):
        with pytest.raises(ValueError, match="must match"):
            reg.register(bad, len)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("satu", len)
    with pytest.raises(ValueError, match="shared"):
        DEFAULT_FUNCTIONS.register("evil", len)
    assert "satu" in DEFAULT_FUNCTIONS.merged(reg).names() and "satu" not in DEFAULT_FUNCTIONS.names()


# ---------------------------------------------------------------------------------------- payloads

# Refused by the static check alone: nothing is evaluated.
STATIC_PAYLOADS = {
    "import-call": '__import__("os").system("touch MARKER")',
    "import-statement": "import os",
    "subclasses-walk": "().__class__.__bases__[0].__subclasses__()",
    "open-read": 'open("/etc/passwd").read()',
    "getattr": 'getattr(x, "__class__")',
    "lambda": "lambda: 1",
    "comprehension": "[x for x in range(10)]",
    "generator": "sum(i for i in platform)",
    "f-string": 'f"{x.__class__}"',
    "str-format-method": '"{0.__class__}".format(x)',
    "walrus": "(y := 1)",
    "dunder-attribute": "x.__dict__",
    "method-on-task-data": "data.keys()",
    "builtins-name": "__builtins__",
    "eval": 'eval("1")',
    "exec": 'exec("x=1")',
    "globals": "globals()",
    "type": "type(x)",
    "percent-format": '"%s" % x',
    "deep-parens": "(" * 200 + "1" + ")" * 200,
    "deep-unary": "-" * 80 + "1",
    "deep-lists": "[" * 60 + "]" * 60,
    "huge-source": "x + " * 2500 + "x",
    "slice": "y[::-1]",
    "star-args": "max(*platform)",
    "kwargs-unpack": "max(1, **data)",
    "set-literal": "{1, 2}",
    "shift": "1 << 100000",
    "yield": "(yield)",
    "big-constant-exponent": "2 ** 100000",
    "is-not-none-only": "x is 1",
    "unregistered-call": "system('ls')",
}


@pytest.mark.parametrize("source", STATIC_PAYLOADS.values(), ids=STATIC_PAYLOADS.keys())
def test_payload_refused_statically_and_at_run_time(source):
    with pytest.raises(UnsafeExpression) as static:
        check_expression(source)
    assert static.value.reason and static.value.expression == source
    with pytest.raises(UnsafeExpression):
        evaluate(source, DATA)


@pytest.mark.parametrize(("source", "reason"), [
    ("().__class__", r"attribute access is not allowed \(.__class__\)"),
    ("lambda: 1", "lambda"),
    ('f"{x}"', "f-string"),
    ("(y := 1)", ":="),
    ("open('f')", "'open' is not allowed"),
    ("__import__('os')", "'__import__' is not allowed"),
    ("y[1:2]", "slices"),
    ("1 +", "syntax error"),
    ("x" * 5000, "too long"),
    ("(" * 200 + "1" + ")" * 200, "nested too deeply"),
])
def test_refusals_name_the_construct(source, reason):
    with pytest.raises(UnsafeExpression, match=reason):
        check_expression(source)


@pytest.mark.parametrize("source", [
    "10**10**10", '"a" * 10**9', "[1] * 10**9", "10**9 * 'ab'", "[[]] * 10**9",
    "(10**6) ** 64 * 10**6 ** 64", "2 ** 64 * 2 ** 64 * 2", "1000000.0 ** 64",
    "round(1, -10**9)", "int('9' * 100)",
])
def test_size_bombs_refuse_quickly(source):
    """Refused by the static check where the literals give it away, else at run time before allocating."""
    start = time.perf_counter()
    with pytest.raises(UnsafeExpression):
        check_expression(source)
        evaluate(source, DATA)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("source", ["10**10**10", '"a" * 10**9', "[1] * 10**9", "x ** y", '"ab" * 100000'])
def test_literal_bombs_refused_before_deploy(source):
    with pytest.raises(UnsafeExpression):
        check_expression(source)


@pytest.mark.parametrize("source", ["x * 10**9", "y * x"])
def test_data_dependent_sizes_refused_at_run_time(source):
    check_expression(source)
    with pytest.raises(ExpressionLimitExceeded):
        evaluate(source, {"x": "ab", "y": 10**9})


def test_growth_through_script_variables_is_bounded():
    # Each line doubles the logical size by aliasing; str() of the result would never finish.
    script = "a = [1] * 1000\n" + "a = [a, a]\n" * 40 + "b = str(a)"
    with pytest.raises(ExpressionLimitExceeded):
        execute(script, {})


def test_percent_on_a_string_value_is_refused_at_run_time():
    with pytest.raises(UnsafeExpression, match="'%' formatting"):
        evaluate("y % x", DATA)
    assert evaluate("x % 1", DATA) == 0


@pytest.mark.parametrize("key", ["__builtins__", "_private", "a-b", "1x", 3])
def test_bad_data_keys_refuse_to_run(key):
    data = {**DATA, key: {}}
    with pytest.raises(UnsafeExpression, match="task data key"):
        evaluate("x == 1", data)
    with pytest.raises(UnsafeExpression, match="task data key"):
        execute("z = 1", data)


def test_non_plain_task_data_is_refused_when_referenced():
    data = {"x": 1, "obj": object(), "nested": {"list": [1, {"f": len}]}}
    assert evaluate("x + 1", data) == 2  # unreferenced values do not matter
    with pytest.raises(UnsafeExpression, match="object"):
        evaluate("obj == 1", data)
    with pytest.raises(UnsafeExpression, match="builtin_function_or_method"):
        evaluate('nested["list"][0]', data)


def test_subscript_only_on_plain_containers():
    data = {"when": datetime(2025, 5, 6), "d": {"1": "a"}}
    with pytest.raises(UnsafeExpression, match="subscript on a datetime"):
        evaluate("when[0]", data)
    with pytest.raises(TypeError):
        evaluate('[1, 2]["a"]', data)


# --------------------------------------------------------------------------------- nothing ran

@pytest.mark.parametrize(("kind", "template"), [
    ("expr", "__import__('os').system('touch {marker}')"),
    ("expr", "open('{marker}', 'w')"),
    ("expr", "getattr(__import__('os'), 'system')('touch {marker}')"),
    ("expr", "exec(\"open('{marker}', 'w')\")"),
    ("expr", "().__class__.__base__.__subclasses__()[0]('{marker}')"),
    ("script", 'import os\nos.system("touch {marker}")'),
    ("script", "f = open('{marker}', 'w')"),
])
def test_nothing_ran(tmp_path, kind, template):
    marker = tmp_path / "MARKER"
    source = template.format(marker=marker)
    with pytest.raises(UnsafeExpression):
        if kind == "expr":
            evaluate(source, {"x": 1})
        else:
            execute(source, {"x": 1})
    with pytest.raises(UnsafeExpression):
        (check_expression if kind == "expr" else check_script)(source)
    task = _task({"x": 1})
    engine = task.workflow.script_engine
    with pytest.raises(WorkflowException) as wrapped:  # through SpiffWorkflow's script engine too
        engine.evaluate(task, source) if kind == "expr" else engine.execute(task, source)
    assert wrapped.value.error_type in {"UnsafeExpression", "UnknownName"}
    assert not marker.exists()


# ------------------------------------------------------------------------------------ SpiffWorkflow

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <process id="p" isExecutable="true">
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="hitung"/>
    <scriptTask id="hitung"><script>total = a + b</script></scriptTask>
    <sequenceFlow id="f2" sourceRef="hitung" targetRef="gw"/>
    <exclusiveGateway id="gw" default="f_kecil"/>
    <sequenceFlow id="f_besar" sourceRef="gw" targetRef="besar">
      <conditionExpression>total &gt; 10 and keputusan == "setuju"</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="f_kecil" sourceRef="gw" targetRef="kecil"/>
    <scriptTask id="besar"><script>hasil = "besar"</script></scriptTask>
    <scriptTask id="kecil"><script>hasil = "kecil"</script></scriptTask>
    <sequenceFlow id="f3" sourceRef="besar" targetRef="end"/>
    <sequenceFlow id="f4" sourceRef="kecil" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>"""


def _workflow(functions=DEFAULT_FUNCTIONS):
    parser = BpmnParser()
    parser.add_bpmn_str(BPMN.encode())
    engine = PythonScriptEngine(environment=SafeScriptEnvironment(functions))
    return BpmnWorkflow(parser.get_spec("p"), script_engine=engine)


def _task(data, functions=DEFAULT_FUNCTIONS):
    """A real SpiffWorkflow task (the error path needs its spec and workflow)."""
    task = _workflow(functions).get_tasks(spec_name="Start")[0]
    task.data = data
    return task


def _run_workflow(data):
    wf = _workflow()
    wf.get_tasks(spec_name="Start")[0].set_data(**data)
    wf.do_engine_steps()
    assert wf.is_completed()
    return wf.data


@pytest.mark.parametrize(("data", "hasil"), [
    ({"a": 7, "b": 5, "keputusan": "setuju"}, "besar"),
    ({"a": 7, "b": 5, "keputusan": "revisi"}, "kecil"),
    ({"a": 1, "b": 2, "keputusan": "setuju"}, "kecil"),
])
def test_safe_environment_runs_a_workflow(data, hasil):
    result = _run_workflow(data)
    assert result["hasil"] == hasil and result["total"] == data["a"] + data["b"]


def test_safe_environment_through_the_script_engine():
    task = _task({"tanggal": "2025-05-06", "n": 3}, SOP_FUNCTIONS)
    engine = task.workflow.script_engine
    assert engine.evaluate(task, "n * 2") == 6
    assert engine.evaluate(task, "PT36H") == "PT36H"
    assert engine.evaluate(task, "akhir_hari(tanggal)") == "2025-05-06T23:59:59+07:00"
    assert engine.evaluate(task, "n + ext", external_context={"ext": 1}) == 4
    assert engine.execute(task, "m = n + 1") is True and task.data["m"] == 4
    with pytest.raises(WorkflowException):
        engine.evaluate(task, "n", external_context={"__builtins__": {}})
    with pytest.raises(UnsafeExpression, match="service calls"):
        SafeScriptEnvironment().call_service({}, operation_name="x")


def test_total_size_built_in_one_run_is_bounded():
    def script(lines):
        return "".join(f"s{i} = 'a' * 90000\n" for i in range(lines))

    execute(script(11), {})  # 990_000 characters in all
    with pytest.raises(ExpressionLimitExceeded, match="builds more than"):
        execute(script(12), {})


def test_an_expression_is_parsed_and_checked_once_per_registry(monkeypatch):
    import engine.expressions as ex

    calls = []
    real = ex._parse_and_check
    monkeypatch.setattr(ex, "_parse_and_check", lambda *a: calls.append(a[0]) or real(*a))
    registry = ex.FunctionRegistry([ex.SafeFunction("dua_kali", lambda x: 2 * x)])
    for n in range(3):
        assert ex.evaluate("dua_kali(x) + 1", {"x": n}, registry) == 2 * n + 1
    assert calls == ["dua_kali(x) + 1"]
    # A refused expression is refused every time (nothing is kept of it).
    for _ in range(2):
        with pytest.raises(ex.UnsafeExpression):
            ex.evaluate("__import__('os')", {}, registry)
    assert calls.count("__import__('os')") == 2
    # Registering a function may change what a name means: the kept trees are dropped.
    registry.register("tiga_kali", lambda x: 3 * x)
    assert ex.evaluate("dua_kali(x) + 1", {"x": 1}, registry) == 3
    assert calls.count("dua_kali(x) + 1") == 2
