"""Seeing inside: debugprint, pprint, DOT pictures, C with provenance, errors that point
at the user's line."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
import numpy as np
import pytest
from helpers import REPO

import cgraph
import cgraph.printing as printing
import cgraph.tensor as T
import cgraph.tensor.nnet as nnet
from cgraph.backend import CompileError
from cgraph.codegen import ShapeError
from cgraph.printing import debugprint, pprint, to_dot

# The module (cgraph.codegen re-exports its `render` function under the same name).
render_module = importlib.import_module("cgraph.codegen.render")
READING_C = REPO / "docs" / "reading-c.md"  # the docs page "Reading the generated C"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot program is not installed")


def here() -> int:
    """The caller's line number (to check that messages name it)."""
    return sys._getframe(1).f_lineno


def xor_step():
    """A small training step with a shared variable, an update and a constant."""
    x = T.dvector("x")
    w = cgraph.shared(np.array([0.5, -0.25]), name="w")
    loss = T.sum((T.tanh(x * w) - 1.0) ** 2)
    step = cgraph.function([x], loss, updates=[(w, w - 0.1 * cgraph.grad(loss, w))])
    return x, w, loss, step


# --------------------------------------------------------------------------- debugprint


def test_debugprint_of_a_variable_shows_ops_ids_and_types():
    x, y = T.dvector("x"), T.dmatrix("y")
    out = T.exp(x) + T.sum(y, axis=0)
    text = debugprint(out, file="str")
    lines = text.splitlines()
    assert lines[0] == "add [id A] float64[?]"
    assert lines[1] == " |exp [id B] float64[?]"
    assert lines[2] == " | |x [id C] float64[?]"
    assert lines[3] == " |Sum{(0,)} [id D] float64[?]"
    assert lines[4] == " | |y [id E] float64[?,?]"
    # A shared node prints once, later uses by label only.
    twice = debugprint([out, out * 2.0], file="str")
    assert twice.count("exp [id B]") == 1 and "mul [id F]" in twice
    assert twice.splitlines().count(" |add [id A] float64[?]") == 1


def test_debugprint_depth_and_trace():
    x = T.dvector("x")
    out, line = T.exp(T.sin(T.cos(x))), here()
    cut = debugprint(out, file="str", depth=2)
    assert "sin [id B]" in cut and "cos" not in cut and " | |..." in cut
    traced = debugprint(out, file="str", print_trace=True)
    assert f"(at {__file__}:{line})" in traced.splitlines()[0]


def test_debugprint_of_a_function_labels_outputs_updates_and_shared():
    x, w, loss, step = xor_step()
    text = debugprint(step, file="str")
    assert text.splitlines()[0].endswith("<- output 0")
    assert "<- update of w" in text
    assert re.search(r"\|w \[id [A-Z]+\] float64\[\?\] \(shared\)", text)
    assert " > t0 = " in text  # the rewritten graph: fused loops with their parts
    out = io.StringIO()
    assert cgraph.dprint(step, file=out) is None and out.getvalue() == text
    assert cgraph.printing.dprint is debugprint


# --------------------------------------------------------------------------- pprint


def test_pprint_writes_infix_math():
    x = T.dscalar("x")
    assert pprint(T.exp(T.sin(x ** 2))) == "exp(sin(x ** 2))"
    a, b = T.dvectors("a", "b")
    assert pprint((a - (b - 1)) / (a * 2) ** 2 - -a) == "(a - (b - 1)) / (a * 2) ** 2 - -a"
    assert pprint(a - b - 1) == "a - b - 1"
    assert pprint(a ** b ** 2) == "a ** b ** 2"
    assert pprint((a ** b) ** 2) == "(a ** b) ** 2"
    assert pprint(T.gt(a + 1, b * 0.5)) == "a + 1 > b * 0.5"
    m = T.dmatrix("m")
    assert pprint(T.dot(m.T, a)) == "Dot(m.T, a)"
    named = T.exp(a)
    named.name = "e"
    assert pprint(named + 1) == "e + 1" and pprint(named) == "exp(a)"


def test_pprint_of_a_function_expands_fused_loops():
    x, w, loss, step = xor_step()
    lines = pprint(step).splitlines()
    assert lines[0].startswith("output 0: ") and "tanh(" in lines[0]
    assert lines[1].startswith("update of w: ") and "w - " in lines[1]
    assert "fused" not in pprint(step).replace("sum(", "")


# --------------------------------------------------------------------------- C source


def test_c_names_the_nodes_the_users_names_and_lines():
    speed, decay = T.dvectors("speed", "decay")
    out, line = T.exp(speed) * decay + 1.5, here()
    f = cgraph.function([speed, decay], out)
    c = f.c_source
    assert Path(f.c_path).read_text() == c
    kernel_comment = next(ln for ln in c.splitlines()
                          if ln.startswith("/*") and " = fused{" in ln)
    assert "v0:speed" in kernel_comment and "v1:decay" in kernel_comment
    assert "fused{exp,mul,add}" in kernel_comment  # the ops it fuses
    assert f"test_printing.py:{line}" in kernel_comment
    # The node id in the C is the one debugprint shows for that node.
    label = re.match(r"fused\{exp,mul,add\} \[id (\w+)\]", debugprint(f, file="str")).group(1)
    assert f"[id {label}]" in kernel_comment
    assert "input 0 v0 (speed) [id " in c


def test_show_c_prints_one_kernel_and_highlights_on_request():
    x = T.dvector("x")
    f = cgraph.function([x], T.exp(x) * 2.0 + T.sum(x))
    text = debugprint(f, file="str")
    label = re.search(r"Sum\{\(0,\)\} \[id (\w+)\]", text).group(1)
    out = io.StringIO()
    kernel = printing.show_c(f, node=label, file=out)
    assert out.getvalue() == kernel and "\033[" not in kernel
    assert kernel.startswith("/*") and f"[id {label}]" in kernel.splitlines()[0]
    assert "CG_KERNEL int k" in kernel and "exp(" not in kernel  # only that kernel
    assert kernel in f.c_source
    colored = io.StringIO()
    printing.show_c(f, file=colored, color=True)
    assert "\033[32m/*" in colored.getvalue() and "\033[1mstatic\033[0m" in colored.getvalue()
    assert re.sub(r"\033\[[0-9;]*m", "", colored.getvalue()) == f.c_source
    with pytest.raises(KeyError, match="debugprint"):
        printing.show_c(f, node="ZZZ", file=io.StringIO())
    with pytest.raises(ValueError, match="mode 'PY'"):
        printing.show_c(cgraph.function([x], x + 1.0, mode="PY"), file=io.StringIO())


# --------------------------------------------------------------------------- pictures


def test_to_dot_draws_each_kind_of_node_differently():
    x, w, loss, step = xor_step()
    text = to_dot(step)
    assert text.startswith('digraph "cgraph" {') and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    node_lines = [ln for ln in text.splitlines() if re.match(r"  n[A-Z]+ \[", ln)]
    by_name = {re.match(r"  (n[A-Z]+)", ln).group(1): ln for ln in node_lines}
    assert len(by_name) == len(node_lines)  # each node once
    shared = [ln for ln in node_lines if "shape=cylinder" in ln]
    assert len(shared) == 1 and '"w\\n[id ' in shared[0]
    assert any("shape=ellipse" in ln and '"x\\n[id ' in ln for ln in node_lines)
    assert any('style="rounded,filled"' in ln for ln in node_lines)  # a constant
    fused = [ln for ln in node_lines if "fused{" in ln]
    assert fused and all("t0 = " in ln and "\\l" in ln for ln in fused)  # parts listed
    assert "update of w" in text and "style=dashed" in text
    for edge in re.findall(r"  (n[A-Z]+) -> (n[A-Z]+|out\d+)", text):
        assert edge[0] in by_name  # every edge starts at a declared node
    assert to_dot(loss) != text and "out0" in to_dot(loss)


@needs_dot
def test_dot_text_renders_to_svg_and_png(tmp_path):
    x, w, loss, step = xor_step()
    svg = printing.to_svg(step)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "update of w" in svg
    path = printing.pydotprint(step, tmp_path / "step.png")
    assert Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert printing.pydotprint(loss, str(tmp_path / "loss.svg")).endswith("loss.svg")
    assert "<svg" in (tmp_path / "loss.svg").read_text()


def test_dot_text_parses_with_the_graphviz_package():
    graphviz = pytest.importorskip("graphviz")
    if not HAS_DOT:
        pytest.skip("the graphviz package needs the dot program")
    x, w, loss, step = xor_step()
    svg = graphviz.Source(to_dot(step)).pipe(format="svg").decode()
    assert "<svg" in svg and "fused{" in svg


def test_dot_file_needs_no_graphviz_and_missing_dot_is_a_clear_error(tmp_path, monkeypatch):
    x = T.dvector("x")
    f = cgraph.function([x], T.exp(x))
    written = printing.pydotprint(f, tmp_path / "f.dot")
    assert Path(written).read_text() == to_dot(f, name="f")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot program anywhere
    packages = [None]  # None in sys.modules: the graphviz package is not installed
    if importlib.util.find_spec("graphviz") is not None:
        packages.insert(0, importlib.import_module("graphviz"))  # installed, dot missing
    for package in packages:
        monkeypatch.setitem(sys.modules, "graphviz", package)
        with pytest.raises(printing.GraphvizNotFound, match="apt-get install graphviz") as info:
            printing.pydotprint(f, tmp_path / "f.svg")
        assert "cgraph[viz]" in str(info.value) and "to_dot" in str(info.value)
        assert not (tmp_path / "f.svg").exists()
    assert printing.notebook_svg(f) is None  # Jupyter falls back to the text repr


@needs_dot
def test_notebook_display_of_functions_and_expressions():
    formatters = pytest.importorskip("IPython.core.formatters")
    x = T.dvector("x")
    f = cgraph.function([x], T.exp(x))
    assert "<svg" in printing.notebook_svg(f)
    assert printing.notebook_svg(x) is None  # a leaf is shown as text

    class Shell:  # what register_notebook_display uses of an IPython shell
        display_formatter = formatters.DisplayFormatter()

    assert printing.register_notebook_display(Shell())
    data, _ = Shell.display_formatter.format(f)
    assert data["image/svg+xml"].lstrip().startswith("<?xml") and "text/plain" in data
    data, _ = Shell.display_formatter.format(T.exp(x) + 1.0)
    assert "exp" in data["image/svg+xml"]
    data, _ = Shell.display_formatter.format(x)
    assert list(data) == ["text/plain"]


def test_register_notebook_display_without_ipython():
    assert printing.register_notebook_display() is False  # pytest runs no IPython shell


# --------------------------------------------------------------------------- errors


def test_runtime_shape_error_names_the_node_the_shapes_and_the_line():
    a, b = T.dvectors("a", "b")
    prod, line = a * b, here()
    f = cgraph.function([a, b], T.exp(prod) + 1.0)
    with pytest.raises(ShapeError) as info:
        f(np.ones(3), np.ones(4))
    text = str(info.value)
    assert "shapes (3,), (4,) do not broadcast" in text
    label = re.match(r"\S+ \[id (\w+)\]", debugprint(f, file="str")).group(1)
    assert (f"in node [id {label}] fused{{mul,exp,add}}(a: float64[?], b: float64[?], "
            f"[1.]: float64[1]) (fused by cgraph.function at {__file__}:{line + 1})") in text
    assert "input shapes: (3,), (4,), (1,)" in text
    # The fused node was made by fusion; the failing part is the user's own line.
    assert f"the failing part: t0 = mul(x0, x1) with shapes (3,), (4,) " \
           f"(mul at test_printing.py:{line})" in text


def test_runtime_index_error_names_the_kernel_node_and_shapes():
    labels = T.lvector("labels")
    hot, line = nnet.one_hot(labels, 3), here()
    f = cgraph.function([labels], hot * 2.0)
    assert f(np.array([0, 2]))[1, 2] == 2.0
    with pytest.raises(IndexError) as info:
        f(np.array([1, 5, 0, 2]))
    text = str(info.value)
    assert "one_hot: label 5 at row 1 is out of range [0, 3)" in text
    assert "[kernel" not in text  # the marker the C adds is turned into the node
    assert "in node [id " in text and "OneHot" in text
    assert f"(created at {__file__}:{line})" in text
    assert "input shapes: (4,)" in text


def test_exception_verbosity_high_lists_the_feeding_nodes():
    a, b = T.dvectors("a", "b")
    out = T.dot(T.exp(a), b)
    with cgraph.config.change_flags(exception_verbosity="high"):
        f = cgraph.function([a, b], out)
    g = cgraph.function([a, b], out)  # the default verbosity, "low"
    with pytest.raises(ShapeError) as info:
        f(np.ones(3), np.ones(4))
    text = str(info.value)
    assert "are not aligned" in text and "in node [id " in text
    feeding = text.split("computed from:")[1]
    assert "exp" in feeding and f"{__file__}:" in feeding
    with pytest.raises(ShapeError) as info:
        g(np.ones(3), np.ones(4))
    assert "computed from:" not in str(info.value)
    assert "exception_verbosity='high'" in str(info.value)


def _broken_environment(tmp_path: Path) -> jinja2.Environment:
    """The real templates, with an elementwise template that renders invalid C."""
    real = render_module.environment()
    original = Path(real.loader.searchpath[0]) / "elementwise.c.j2"
    text = original.read_text().replace("{\n", "{\n    this_is_not_c = ;\n", 1)
    (tmp_path / "elementwise.c.j2").write_text(text)
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(tmp_path)), real.loader]),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, autoescape=False)


def test_broken_template_gives_a_short_compile_error(tmp_path, monkeypatch):
    broken = _broken_environment(tmp_path)
    monkeypatch.setattr(render_module, "environment", lambda: broken)
    x = T.dvector("x")
    out, line = T.exp(x) * 4.125, here()  # a constant no other test compiles
    with pytest.raises(CompileError) as info:
        cgraph.function([x], out)
    err = info.value
    text = str(err)
    assert "this_is_not_c" in text and "error:" in text
    assert "rendered from templates/elementwise.c.j2" in text
    assert f"test_printing.py:{line}" in text and "[id A]" in text
    assert f"C file: {err.c_path}" in text and Path(err.c_path).is_file()
    assert "CG_KERNEL int" not in text and len(text.splitlines()) < 40  # no wall of C
    command = re.search(r"reproduce with: (.*)", text).group(1)
    assert "\n" not in command
    again = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    assert again.returncode != 0 and "this_is_not_c" in again.stderr


# ------------------------------------------------- docs/reading-c.md, "Seeing inside"


def _seeing_inside() -> str:
    return READING_C.read_text().split("## Seeing inside", 1)[1].split("\n## ", 1)[0]


def test_docs_seeing_inside_example_prints_what_it_shows():
    section = _seeing_inside()
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    shown = re.search(r"```text\n(.*?)```", section, flags=re.S).group(1)
    out = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(out):
        exec(compile(code, "model.py", "exec"), namespace)
    assert out.getvalue() == shown
    f, np_ = namespace["f"], namespace["np"]
    comment = re.search(r"```c\n(/\*.*?\*/)\n", section).group(1)
    assert comment in f.c_source
    error = re.search(r"```text\nShapeError: (.*?)```", section, flags=re.S).group(1)
    with pytest.raises(ShapeError) as info:
        f(np_.ones(3), np_.ones(4))
    assert str(info.value).startswith(error.rstrip("\n"))


@needs_dot
def test_docs_picture_is_what_its_command_draws(tmp_path):
    section = _seeing_inside()
    command = re.search(r"`(python -m cgraph demo xor --draw docs/(\S+))`", section)
    picture = READING_C.parent / command.group(2)
    assert f"]({command.group(2)})" in section and picture.is_file()
    drawn = tmp_path / picture.name
    subprocess.run([sys.executable, "-m", "cgraph", "demo", "xor", "--epochs", "1",
                    "--draw", str(drawn)], check=True, capture_output=True, timeout=300)

    def shapes(svg: str) -> list[str]:  # nodes, edges and labels, not coordinates
        return sorted(re.findall(r"<title>(.*?)</title>|<text[^>]*>(.*?)</text>", svg))

    assert shapes(drawn.read_text()) == shapes(picture.read_text())
