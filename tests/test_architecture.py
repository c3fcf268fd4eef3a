"""The import graph of src/: layers only import downwards, no cycles, Qt only at the edge.

Parses every module (no import runs), so lazy imports inside functions count as much as
those at the top. The layer order is the one docs/architecture.md shows.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from napari_phenoscope import MOVED_MODULES

PACKAGE = "napari_phenoscope"
SRC = Path(__file__).resolve().parents[1] / "src" / PACKAGE

#: From the bottom up; a module may import its own layer or any layer below it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("constants", "errors"),
    ("io", "_reader"),
    ("segmentation",),
    ("features",),
    ("qc",),
    ("models",),
    ("training",),
    ("evaluation", "profile_map"),
    ("profiling",),
    ("similarity",),
    ("demo", "_sample_data"),
    ("session",),
    ("_widgets",),
    ("app",),
    ("cli",),
)
#: Only these layers may import a GUI toolkit.
GUI_LAYERS = ("_widgets", "app")
GUI_MODULES = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "superqt", "magicgui")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def resolve(name: str) -> str | None:
    """The module of ours that ``name`` (a module or a module's attribute) denotes."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> dict[str, set[str]]:
    """Our modules imported by ``module`` (edges), and the top-level names of all imports."""
    tree = ast.parse(MODULES[module].read_text(), filename=str(MODULES[module]))
    ours: set[str] = set()
    named: set[str] = set()  # every napari_phenoscope.* name as written
    external: set[str] = set()
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                external.add(alias.name.split(".")[0])
                if alias.name.startswith(PACKAGE):
                    ours.add(resolve(alias.name))
                    named.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            external.add(base.split(".")[0])
            if base.startswith(PACKAGE):
                named.add(base)
                for alias in node.names:  # "from pkg import submodule" imports the submodule
                    ours.add(resolve(f"{base}.{alias.name}"))
                    named.add(f"{base}.{alias.name}")
    ours.discard(None)
    ours.discard(module)
    return {"ours": ours, "named": named, "external": external}


GRAPH = {module: imports_of(module) for module in MODULES}


def domain(module: str) -> str:
    """``napari_phenoscope.profiling.pipeline`` -> ``profiling``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer(module: str) -> int | None:
    name = domain(module)
    for rank, names in enumerate(LAYERS):
        if name in names:
            return rank
    return None


def test_every_module_has_a_layer():
    # the package __init__ (version only) is the one module outside the layers
    unplaced = [m for m in MODULES if m != PACKAGE and layer(m) is None]
    assert unplaced == [], f"add these to LAYERS (and docs/architecture.md): {unplaced}"


def test_no_upward_import():
    upward = [
        f"{module} (layer {domain(module)}) imports {target} (layer {domain(target)})"
        for module, edges in GRAPH.items()
        for target in sorted(edges["ours"])
        if target != PACKAGE and layer(module) is not None and layer(target) > layer(module)
    ]
    assert upward == []


def test_nothing_in_src_imports_the_old_flat_paths():
    old = {f"{PACKAGE}.{name}" for name in MOVED_MODULES}
    users = [
        f"{module} imports {name}"
        for module, edges in GRAPH.items()
        for name in sorted(edges["named"])
        if any(name == o or name.startswith(o + ".") for o in old)
    ]
    assert users == []


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph as a path, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, stack = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            target = next(stack[-1], None)
            if target is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(target) == 1:
                return [*path[path.index(target) :], target]
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                stack.append(iter(sorted(graph.get(target, ()))))
    return None


def test_import_graph_has_no_cycle():
    # package __init__ re-exports count: a module importing its own package's __init__
    # while that __init__ imports the module is a cycle too
    edges = {module: e["ours"] for module, e in GRAPH.items()}
    cycle = find_cycle(edges)
    assert cycle is None, " -> ".join(cycle)


def test_find_cycle_sees_a_lazy_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_only_widgets_and_app_import_a_gui_toolkit():
    gui_users = [
        f"{module} imports {sorted(GRAPH[module]['external'] & set(GUI_MODULES))}"
        for module in MODULES
        if domain(module) not in GUI_LAYERS and GRAPH[module]["external"] & set(GUI_MODULES)
    ]
    assert gui_users == []


def test_the_restructure_removed_the_segmentation_cycle():
    cellpose = GRAPH[f"{PACKAGE}.segmentation.cellpose"]["ours"]
    watershed = GRAPH[f"{PACKAGE}.segmentation.watershed"]["ours"]
    assert f"{PACKAGE}.segmentation.watershed" in cellpose
    assert not any(t.startswith(f"{PACKAGE}.segmentation.") for t in watershed)


def dock_modules() -> set[str]:
    """Modules of ``_widgets`` that define a dock (a subclass of ``_dock.Dock``)."""
    docks = set()
    for module, path in MODULES.items():
        if domain(module) != "_widgets" or module.split(".")[-1].startswith("_"):
            continue
        for node in ast.parse(path.read_text()).body:
            bases = [b.id for b in getattr(node, "bases", []) if isinstance(b, ast.Name)]
            if isinstance(node, ast.ClassDef) and "Dock" in bases:
                docks.add(module)
    return docks


def test_no_dock_imports_another_dock():
    # docks share code through the private _widgets modules (_dock, _cells, _viewer, ...)
    # and talk through the session's events; docks.py and the layer menu commands open
    # them through napari's plugin API, so no module of _widgets imports a dock module
    # (lazy imports inside functions count: GRAPH parses every import)
    docks = dock_modules()
    assert f"{PACKAGE}._widgets.retrieval_dock" in docks and len(docks) >= 7
    crossing = [
        f"{module} imports {target}"
        for module in sorted(m for m in MODULES if domain(m) == "_widgets")
        for target in sorted(GRAPH[module]["ours"])
        if target in docks and target != module
    ]
    assert crossing == []


def test_every_dock_subclasses_the_dock_base():
    # the viewer / session / worker / cancel / error wiring lives once, in _widgets/_dock.py
    plain = []
    for module in sorted(MODULES):
        parts = module.split(".")
        if domain(module) != "_widgets" or parts[-1].startswith("_") or parts[-1] == "docks":
            continue
        for node in ast.parse(MODULES[module].read_text()).body:
            bases = [b.id for b in getattr(node, "bases", []) if isinstance(b, ast.Name)]
            if isinstance(node, ast.ClassDef) and "QWidget" in bases:
                plain.append(f"{module}.{node.name}")
    assert plain == []


#: A parameter of these names is a ``napari.Viewer`` (napari's own convention: the viewer
#: napari injects into a dock or a command is ``viewer`` / ``napari_viewer``).
VIEWER_PARAMETERS = ("viewer", "napari_viewer")


def gui_names(tree: ast.AST) -> set[str]:
    """Names a module binds by importing a GUI toolkit (anywhere: lazy imports count)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in GUI_MODULES:
                    names.add((alias.asname or alias.name).split(".")[0])
        elif isinstance(node, ast.ImportFrom) and not node.level:
            module = node.module or ""
            qt_matplotlib = module.startswith("matplotlib.backends.backend_qt")
            if module.split(".")[0] in GUI_MODULES or qt_matplotlib:
                names.update(alias.asname or alias.name for alias in node.names)
    return names


def names_in(node: ast.AST | None) -> set[str]:
    """Every identifier an expression mentions (string annotations parsed)."""
    found: set[str] = set()
    for sub in ast.walk(node) if node is not None else ():
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            try:
                found |= names_in(ast.parse(sub.value, mode="eval"))
            except SyntaxError:
                pass
    return found


def napari_commands() -> set[str]:
    """``module:function`` of every command napari.yaml contributes."""
    manifest = (SRC / "napari.yaml").read_text()
    return {
        line.split(":", 1)[1].strip() for line in manifest.splitlines() if "python_name:" in line
    }


def touches_the_gui(function: ast.FunctionDef, gui: set[str]) -> bool:
    """Whether a function takes, returns or uses a GUI object (see the test below)."""
    arguments = function.args
    parameters = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
    parameters += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
    if any(p.arg in VIEWER_PARAMETERS for p in parameters):
        return True
    annotations = [p.annotation for p in parameters] + [function.returns]
    if any(names_in(a) & gui for a in annotations):
        return True
    body = ast.Module(body=function.body, type_ignores=[])
    return bool(names_in(body) & gui)


def headless_functions_in_widgets() -> list[str]:
    commands = napari_commands()
    found = []
    for module, path in sorted(MODULES.items()):
        if domain(module) != "_widgets":
            continue
        tree = ast.parse(path.read_text())
        gui = gui_names(tree)
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if node.name.startswith("_") or f"{module}:{node.name}" in commands:
                continue
            if not touches_the_gui(node, gui):
                found.append(f"{module}.{node.name}")
    return found


def test_widgets_define_no_public_headless_function():
    """What a dock computes lives in a pure module (``session/`` or its domain package),
    not in ``_widgets/`` (docs/architecture.md, "Where a dock's headless code lives").

    The criterion, by the AST of each ``_widgets`` module: a public (no leading
    underscore) function defined at module level must touch the GUI, i.e. at least one of

    - take the viewer: a parameter named ``viewer`` or ``napari_viewer`` (napari's name for
      the ``napari.Viewer`` it injects);
    - take or return a GUI object: a parameter or return annotation that names a GUI
      toolkit or something imported from one (``napari.layers.Layer``, ``QPixmap``);
    - use the GUI: its body names something imported from a GUI toolkit (napari, Qt,
      superqt, magicgui, matplotlib's Qt backend), at the top of the module or lazily;
    - be a command that napari.yaml contributes (``python_name``).

    Methods and private helpers are the dock's own business and are not checked; a public
    function that passes none of these is headless and belongs in a pure module.
    """
    assert headless_functions_in_widgets() == []


def test_the_headless_criterion_tells_gui_functions_from_pure_ones():
    source = """
from qtpy.QtGui import QPixmap
import napari

def pure(table, column): return table[column]
def takes_viewer(viewer): return viewer.layers
def returns_pixmap(rgb) -> QPixmap: return make(rgb)
def takes_a_layer(layer: "napari.layers.Layer"): return layer.name
def uses_qt(path):
    from qtpy.QtWidgets import QApplication
    QApplication.processEvents()
"""
    tree = ast.parse(source)
    gui = gui_names(tree)
    verdicts = {
        f.name: touches_the_gui(f, gui) for f in tree.body if isinstance(f, ast.FunctionDef)
    }
    assert verdicts == {
        "pure": False,
        "takes_viewer": True,
        "returns_pixmap": True,
        "takes_a_layer": True,
        "uses_qt": True,
    }


def test_gui_imports_are_seen_inside_functions_too(tmp_path, monkeypatch):
    # the rule "only _widgets and app import a GUI toolkit" parses every import: a module
    # importing napari or Qt inside a function is caught like one importing it at the top
    lazy = tmp_path / "lazy.py"
    lazy.write_text("def later():\n    from napari.utils import notifications\n    import qtpy\n")
    monkeypatch.setitem(MODULES, f"{PACKAGE}.session.lazy", lazy)
    assert {"napari", "qtpy"} <= imports_of(f"{PACKAGE}.session.lazy")["external"]


#: What a lazy import of our own module may put off (docs/architecture.md, "Lazy imports"):
#: packages that cost a second or more to import, need a display, or are optional.
HEAVY_PACKAGES = (
    "torch",
    "torchvision",
    "timm",
    "dask",
    "distributed",
    "umap",
    "matplotlib",
    "cellpose",
    "s3fs",
    *GUI_MODULES,  # napari, Qt, superqt, magicgui
)
#: The mark of a lazy import kept for another reason (a cycle, an order), with the reason.
LAZY_MARK = "# lazy:"


def module_level_statements(body: list[ast.stmt]):
    """The statements that run when a module is imported (not in functions, not typing-only)."""
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from module_level_statements(node.orelse)
            continue
        yield node
        for field in ("body", "orelse", "finalbody", "handlers"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                yield from module_level_statements(block)


def imported_names(node: ast.Import | ast.ImportFrom, module: str) -> tuple[set[str], set[str]]:
    """Our modules an import statement imports, and the top-level packages it names."""
    ours: set[str | None] = set()
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
        ours = {resolve(name) for name in names if name.startswith(PACKAGE)}
        return ours - {None}, {name.split(".")[0] for name in names}
    base = node.module or ""
    if node.level:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    if base.startswith(PACKAGE):
        ours = {resolve(base)} | {resolve(f"{base}.{alias.name}") for alias in node.names}
    return ours - {None}, {base.split(".")[0]}


def module_level_imports(module: str) -> tuple[set[str], set[str]]:
    """Our modules and the packages that importing ``module`` imports by itself (its parent
    packages' ``__init__`` included, as Python imports them first)."""
    tree = ast.parse(MODULES[module].read_text())
    ours = {".".join(module.split(".")[:i]) for i in range(1, len(module.split(".")))}
    external: set[str] = set()
    for node in module_level_statements(tree.body):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules, packages = imported_names(node, module)
            ours |= modules
            external |= packages
    return ours - {module}, external


MODULE_LEVEL = {module: module_level_imports(module) for module in MODULES}


def heavy_at_import(module: str) -> set[str]:
    """The heavy packages that ``import module`` loads, through any chain of our modules."""
    heavy: set[str] = set()
    seen, stack = {module}, [module]
    while stack:
        ours, external = MODULE_LEVEL.get(stack[-1]) or module_level_imports(stack[-1])
        stack.pop()
        heavy |= external & set(HEAVY_PACKAGES)
        stack.extend(ours - seen)
        seen |= ours
    return heavy


def lazy_imports_without_reason(module: str) -> list[str]:
    """Imports of our modules inside a function of ``module`` that put off nothing heavy
    ``module`` does not already load, and carry no ``# lazy:`` comment (on the import, or
    on the line above the run of imports it belongs to)."""
    lines = MODULES[module].read_text().splitlines()
    tree = ast.parse("\n".join(lines))
    loaded = heavy_at_import(module)
    found = []
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for block in ast.walk(function):
            for field in ("body", "orelse", "finalbody"):
                statements = getattr(block, field, None)
                if not isinstance(statements, list):
                    continue
                first = None  # the first import of the current run of imports
                for node in statements:
                    if not isinstance(node, ast.Import | ast.ImportFrom):
                        first = None
                        continue
                    first = first or node
                    targets, _ = imported_names(node, module)
                    if not targets:
                        continue
                    spared = set().union(*(heavy_at_import(t) for t in targets)) - loaded
                    marked = lines[first.lineno - 2 : node.end_lineno]
                    if not spared and not any(LAZY_MARK in line for line in marked):
                        found.append(f"{module}:{node.lineno} {ast.unparse(node)}")
    return sorted(set(found))


def test_lazy_imports_of_our_modules_put_off_something_heavy_or_say_why():
    # an import of our own module inside a function hides the module's dependencies from
    # its reader; it is kept only where it puts off a heavy package (HEAVY_PACKAGES) that
    # the importing module does not load anyway, or where a "# lazy:" comment says why
    # (a cycle, an order); every other import goes to the top of the module
    found = [line for module in MODULES for line in lazy_imports_without_reason(module)]
    assert found == []


def test_a_lazy_import_of_a_light_module_is_caught(tmp_path, monkeypatch):
    planted = tmp_path / "planted.py"
    planted.write_text(
        "def light():\n"
        "    from napari_phenoscope.constants import CHANNELS\n"
        "def heavy():\n"
        "    from napari_phenoscope.models import load_encoder\n"
        "def said_why():\n"
        "    # lazy: an order the reader cannot see\n"
        "    import numpy\n"
        "    from napari_phenoscope.constants import WELL\n"
        "def said_on_the_line():\n"
        "    from napari_phenoscope.constants import SITE  # lazy: a cycle\n"
    )
    monkeypatch.setitem(MODULES, f"{PACKAGE}.session.planted", planted)
    assert {"torch", "timm"} <= heavy_at_import(f"{PACKAGE}.models.weights")
    assert lazy_imports_without_reason(f"{PACKAGE}.session.planted") == [
        f"{PACKAGE}.session.planted:2 from napari_phenoscope.constants import CHANNELS"
    ]


#: A module longer than this opens with ``# Long (~N lines): why`` (docs/architecture.md).
LONG_MODULE_LINES = 400
LONG_MARK = re.compile(r"# Long \(~(\d+) lines\): \S.{20,}")


def long_modules_without_reason(paths: dict[str, Path]) -> list[str]:
    """Modules over ``LONG_MODULE_LINES`` lines whose first line does not say why, or whose
    stated length is more than a quarter off the real one."""
    found = []
    for module, path in sorted(paths.items()):
        lines = path.read_text().splitlines()
        if len(lines) <= LONG_MODULE_LINES:
            continue
        mark = LONG_MARK.fullmatch(lines[0].strip())
        if mark is None:
            found.append(f"{module} ({len(lines)} lines): no '# Long (~N lines): why' first line")
        elif abs(int(mark.group(1)) - len(lines)) > len(lines) / 4:
            found.append(f"{module} ({len(lines)} lines) says ~{mark.group(1)} lines")
    return found


def test_a_long_module_says_why_on_its_first_line():
    # a file over ~400 lines is a smell (STYLE.md): it is split, or its first line says
    # why it is one module, e.g. "# Long (~580 lines): the run and one field's work share ..."
    assert long_modules_without_reason(MODULES) == []


def test_a_long_module_without_its_reason_is_caught(tmp_path):
    body = "".join(f"x{i} = {i}\n" for i in range(LONG_MODULE_LINES))
    said = "# Long (~400 lines): one table of constants, read top to bottom.\n"
    paths = {}
    for name, text in {
        "short": body[: -len("x399 = 399\n")],
        "silent": body + "y = 1\n",
        "said": said + body,
        "stale": said.replace("~400", "~900") + body,
        "docstring": '"""Long (~400 lines) because it is."""\n' + body,
    }.items():
        paths[name] = tmp_path / f"{name}.py"
        paths[name].write_text(text)
    assert [line.split(" ")[0] for line in long_modules_without_reason(paths)] == [
        "docstring",
        "silent",
        "stale",
    ]


def test_the_cli_imports_nothing_heavy_before_a_verb_runs():
    # `phenoscope --help` and the argument errors answer at once: the verbs import the
    # library (pandas, dask, torch, napari, ...) only in run()
    script = (
        "import sys, napari_phenoscope.cli\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert set(loaded) & {*HEAVY_PACKAGES, "pandas"} == set()
