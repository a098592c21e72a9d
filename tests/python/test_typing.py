"""Type information: the installed package is typed (py.typed, a stub for the compiled module),
the stub has the signatures of the bindings, and mypy accepts the package and a typed use of it."""

import ast
import os
import pathlib
import runpy
import subprocess
import sys

import pytest

import multilogit
from multilogit import _core

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE_DIR = pathlib.Path(multilogit.__file__).resolve().parent
USAGE = pathlib.Path(__file__).resolve().with_name("typing_usage.py")


def _functions(module_source):
    tree = ast.parse(module_source)
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _shape(function):
    """Names, kinds and defaults of the parameters of an ast.FunctionDef."""
    args = function.args
    positional = args.posonlyargs + args.args
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    shape = [
        (arg.arg, "positional-only" if arg in args.posonlyargs else "positional-or-keyword",
         None if default is None else ast.unparse(default))
        for arg, default in zip(positional, defaults)
    ]
    shape += [
        (arg.arg, "keyword-only", None if default is None else ast.unparse(default))
        for arg, default in zip(args.kwonlyargs, args.kw_defaults)
    ]
    return shape, args.vararg is not None, args.kwarg is not None


def _runtime_functions():
    """The signatures pybind11 reports, first line of each docstring, parsed as Python."""
    functions = {}
    for name in dir(_core):
        if name.startswith("_") or not callable(getattr(_core, name)):
            continue
        signature = getattr(_core, name).__doc__.splitlines()[0]
        assert signature.startswith(f"{name}("), signature
        functions[name] = ast.parse(f"def {signature}: ...").body[0]
    return functions


def test_installed_package_is_typed():
    assert (PACKAGE_DIR / "py.typed").is_file()
    assert (PACKAGE_DIR / "_core.pyi").is_file()


def test_stub_has_the_signatures_of_the_bindings():
    stub = _functions((PACKAGE_DIR / "_core.pyi").read_text())
    runtime = _runtime_functions()
    assert sorted(name for name in stub if not name.startswith("_")) == sorted(runtime)
    for name, function in runtime.items():
        assert _shape(stub[name]) == _shape(function), name


def _mypy(targets, cache_dir):
    """Runs mypy with the project's configuration outside the source tree, where it finds the
    installed package by its py.typed marker."""
    env = {k: v for k, v in os.environ.items() if k != "MYPYPATH"}
    command = [
        sys.executable, "-m", "mypy",
        "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(cache_dir),
        *targets,
    ]
    run = subprocess.run(command, cwd=cache_dir.parent, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, f"{' '.join(command)} failed:\n{run.stdout}{run.stderr}"


def test_mypy_accepts_the_package_and_a_typed_use_of_it(tmp_path):
    pytest.importorskip("mypy")
    # mypy takes a package or files, not both: two runs sharing one cache.
    _mypy(["-p", "multilogit"], tmp_path / "mypy-cache")
    _mypy([str(USAGE)], tmp_path / "mypy-cache")


def test_typed_use_runs():
    runpy.run_path(str(USAGE), run_name="__main__")
