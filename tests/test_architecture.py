"""What import-linter cannot say (its contracts, in pyproject.toml, see only
the project's own packages and the top of outside ones): production code
never imports Django's test tools."""

import ast

from tests.process_helpers import ROOT

PRODUCTION = ("newsroom", "stories", "newsletters")


def imported_modules(path) -> set[str]:
    """Every module path imports, at the top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_production_code_never_imports_django_test_tools():
    modules = [path for app in PRODUCTION for path in (ROOT / app).rglob("*.py")]
    assert len(modules) > 100
    offending = {
        str(path.relative_to(ROOT)): sorted(
            name for name in imported_modules(path) if name.split(".")[:2] == ["django", "test"]
        )
        for path in modules
    }
    assert {path: names for path, names in offending.items() if names} == {}


def test_the_scan_sees_imports_made_inside_functions(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from django.test.utils import override_settings\n")
    assert imported_modules(module) == {"django.test.utils"}
