"""Layering that the wheel relies on: the kernels (installed as rglt.kernels) import nothing from the
rest of rglt, so rglt can import them at the top of any module without an import cycle."""
import ast
from pathlib import Path

KERNELS = Path(__file__).resolve().parents[1] / "kernels"


def imported_modules(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:  # relative imports stay inside kernels/
            names.append(node.module)
    return names


def test_kernels_import_nothing_from_the_rest_of_rglt():
    files = sorted(KERNELS.rglob("*.py"))
    assert files
    outside = [f"{path.relative_to(KERNELS.parent)}: {name}" for path in files for name in imported_modules(path)
               if (name == "rglt" or name.startswith("rglt.")) and not name.startswith("rglt.kernels")]
    assert not outside, outside
