"""The import map: every module of rglt imports only from its own layer or the layers below it, at the
top of a file or inside a function alike, and the kernels import nothing from the rest of rglt."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Lowest first. A unit is a top-level module or subpackage of rglt (rglt.kernels is kernels/).
LAYERS = [
    {"rglt", "rglt.kernels"},
    {"rglt.identity", "rglt.storage", "rglt.paths", "rglt.validate", "rglt.progress", "rglt.plot", "rglt.stats",
     "rglt.sources"},
    {"rglt.provenance", "rglt.claims", "rglt.report", "rglt.store", "rglt.benchmark"},
    {"rglt.data", "rglt.models"},
    {"rglt.train"},
    {"rglt.prune"},
    {"rglt.rg", "rglt.flow", "rglt.pools", "rglt.applications"},
    {"rglt.experiments"},
    {"rglt.__main__"},
]
LAYER = {unit: i for i, units in enumerate(LAYERS) for unit in units}


def _unit(module: str) -> str:
    parts = module.split(".")
    return ".".join(parts[:2])


def _modules():
    for path in sorted((ROOT / "rglt").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
    for path in sorted((ROOT / "kernels").rglob("*.py")):
        parts = ("rglt", *path.relative_to(ROOT).with_suffix("").parts)
        yield path, ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, module: str):
    """(line, imported rglt module) for every import in the file, relative ones resolved."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[:len(package) - node.level + 1] + [node.module or ""]).strip(".") \
                if node.level else node.module
            # `from rglt import x` imports the unit rglt.x when x is a module
            names = [f"{base}.{a.name}" if base == "rglt" else base for a in node.names]
        else:
            continue
        for name in names:
            if name == "rglt" or name.startswith("rglt."):
                yield node.lineno, name


MODULES = list(_modules())


def test_every_unit_has_a_layer():
    units = {_unit(module) for _, module in MODULES}
    assert units <= set(LAYER), f"give these a layer in LAYERS: {sorted(units - set(LAYER))}"


@pytest.mark.parametrize("path,module", MODULES, ids=[m for _, m in MODULES])
def test_no_import_runs_up_a_layer(path, module):
    mine = LAYER[_unit(module)]
    upward = [f"{path.relative_to(ROOT)}:{line} imports {name}" for line, name in _imports(path, module)
              if _unit(name) in LAYER and LAYER[_unit(name)] > mine]
    assert not upward, "\n".join(upward)


@pytest.mark.parametrize("path,module", [(p, m) for p, m in MODULES if m.startswith("rglt.kernels")],
                         ids=[m for _, m in MODULES if m.startswith("rglt.kernels")])
def test_kernels_import_nothing_from_the_rest_of_rglt(path, module):
    outside = [name for _, name in _imports(path, module) if not name.startswith("rglt.kernels")]
    assert not outside, f"{path.relative_to(ROOT)} imports {outside}"
