"""Security: a scan of the project's own source (every .py file of the repository outside the
virtual environment) for the calls that run code from data.

* no ``eval(`` / ``exec(`` / ``compile(`` / ``__import__(`` (user strings are parsed with
  ``ast.literal_eval`` only, which evaluates literals and nothing else);
* pickles only through the restricted unpickler (``studies.datasets.safe_pickle``): no
  ``pickle.load``/``loads``, ``pickle.Unpickler(...)``, ``numpy.load(allow_pickle=True)``,
  ``pandas.read_pickle``, ``joblib.load``, ``marshal.load(s)``;
* ``torch.load`` only with ``weights_only=True``;
* ``importlib.import_module`` only in the modules below, each with a fixed table of module
  names or the one importer of the import paths a user writes (``symbench.imports``).

The scan reads the syntax tree, so the hostile strings that tests feed to the parsers
(``"adam(lr=__import__('os'))"``) are data, not calls. The allow-list is explicit; a new
entry needs a reason.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".venv", "venv", ".git", "build", "dist", "results", "__pycache__", ".eggs", "node_modules"}

FORBIDDEN_NAMES = {"eval", "exec", "compile", "__import__"}
FORBIDDEN_ATTRIBUTES = {
    ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"), ("cPickle", "load"), ("cPickle", "loads"),
    ("dill", "load"), ("dill", "loads"), ("cloudpickle", "load"), ("cloudpickle", "loads"),
    ("pd", "read_pickle"), ("pandas", "read_pickle"), ("joblib", "load"), ("marshal", "load"), ("marshal", "loads"),
    ("shelve", "open"),
}
#: where ``importlib.import_module`` may be called, and why
IMPORT_MODULE_ALLOWED = {
    "symbench/imports.py": "the one importer of a package.module:Name path the user wrote",
    "studies/registry.py": "the study modules of its fixed table _STUDIES",
    "studies/cli.py": "the catalogue modules of its fixed table (symbench list)",
    "reports/__init__.py": "the report modules of its fixed table REPORTS",
    "learners/__init__.py": "lazy attributes of its fixed table _LAZY",
}
#: (file, call) pairs that are legitimate, and why (empty: none is needed today)
ALLOWED: dict[tuple[str, str], str] = {}


def project_files() -> list[Path]:
    files = []
    for folder, subfolders, names in os.walk(ROOT):
        subfolders[:] = [d for d in subfolders if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        files += [Path(folder) / n for n in names if n.endswith(".py")]
    return sorted(files)


def _dotted(node: ast.AST) -> tuple[str, ...] | None:
    names = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return (node.id, *reversed(names))
    return None


def _keyword_is(call: ast.Call, name: str, value) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is value for k in call.keywords)


def _is_round_trip(call: ast.Call) -> bool:
    """``pickle.loads(pickle.dumps(obj))``: bytes this very line made from our own object (tests)."""
    return bool(call.args) and isinstance(call.args[0], ast.Call) and _dotted(call.args[0].func) == ("pickle", "dumps")


def violations_in(path: Path) -> list[str]:
    rel = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=rel)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        if name is None:
            continue
        where = f"{rel}:{node.lineno}"
        call = ".".join(name)
        if (rel, call) in ALLOWED:
            continue
        if len(name) == 1 and name[0] in FORBIDDEN_NAMES:
            found.append(f"{where}: {call}(...) runs code from a string")
        elif name[-2:] in FORBIDDEN_ATTRIBUTES and not (name[-1] == "loads" and _is_round_trip(node)):
            found.append(f"{where}: {call}(...) can run code from a file (use studies.datasets.safe_pickle)")
        elif name[-2:] == ("torch", "load") and not _keyword_is(node, "weights_only", True):
            found.append(f"{where}: torch.load without weights_only=True")
        elif name[-1] == "load" and name[-2:-1] in (("np",), ("numpy",)) and _keyword_is(node, "allow_pickle", True):
            found.append(f"{where}: numpy.load(allow_pickle=True) unpickles")
        elif name == ("importlib", "import_module") and rel not in IMPORT_MODULE_ALLOWED:
            found.append(f"{where}: importlib.import_module outside the allowed modules (user code is imported "
                         "only through symbench.imports.import_object, from a path the user wrote)")
        elif name[-1] == "import_module" and len(name) == 1:
            found.append(f"{where}: import_module (imported by name) outside importlib.import_module's allow-list")
    return found


def test_the_scan_covers_the_project():
    rels = {p.relative_to(ROOT).as_posix() for p in project_files()}
    assert {"studies/cli.py", "studies/datasets/safe_pickle.py", "invariance/checker.py", "tests/test_security.py",
            "symbench/imports.py"} <= rels
    assert not any(r.startswith(".venv/") for r in rels)
    assert all((ROOT / r).is_file() for r in IMPORT_MODULE_ALLOWED)


def test_the_scan_finds_what_it_forbids(tmp_path):
    """The detector itself, on a file full of the forbidden calls (so a pass means something)."""
    bad = tmp_path / "probe.py"
    bad.write_text(
        "import pickle, torch, numpy as np, importlib\n"
        "eval('1')\nexec('x = 1')\n__import__('os')\npickle.loads(b'')\npickle.load(f)\n"
        "torch.load('m.pt')\ntorch.load('m.pt', weights_only=False)\nnp.load('a.npy', allow_pickle=True)\n"
        "importlib.import_module(name)\n"
        "ok = [torch.load('m.pt', weights_only=True), pickle.loads(pickle.dumps(1)), model.eval(), "
        "ast.literal_eval('1'), np.load('a.npy')]\n"
    )
    found = violations_in(bad)
    assert len(found) == 9, found


def test_no_forbidden_call_in_the_source():
    found = [v for path in project_files() for v in violations_in(path)]
    assert not found, "\n".join(found)


def test_user_strings_are_parsed_as_literals_only():
    """The spec parser (optimizer specs, estimator arguments) refuses anything but literals."""
    from optimizers.spec import parse_spec

    for text in ["adam(lr=__import__('os').system('true'))", "adam(lr=(lambda: 1)())", "adam(lr=open('x'))"]:
        try:
            parse_spec(text)
        except ValueError as exc:
            assert "not a Python literal" in str(exc)
        else:
            raise AssertionError(f"{text!r} was accepted")
