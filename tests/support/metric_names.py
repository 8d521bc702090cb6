"""Metric names on both sides of the monitoring: the series the shipped code registers with
prometheus_client (read from its source with ``ast``, so a name must be a literal or a constant), and the
metric names and label values a PromQL expression selects."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Top-level packages that are not shipped in the image (the Dockerfile deletes them).
NOT_SHIPPED = {"tests", "bench", "testkit", "devstack"}


class MetricNames(ast.NodeVisitor):
    """Metric names passed to prometheus_client's constructors, with the series they expose."""

    KINDS = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}

    def __init__(self, path: Path, tree: ast.Module) -> None:
        self.path = path
        self.local: dict[str, str] = {}
        self.constants: dict[str, str] = {}
        self.series: set[str] = set()
        self.unreadable: list[str] = []
        for node in tree.body:
            if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client":
                for alias in node.names:
                    if alias.name in self.KINDS:
                        self.local[alias.asname or alias.name] = alias.name
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) \
                    and isinstance(node.value.value, str):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.constants[target.id] = node.value.value

    def text(self, node: ast.expr | None) -> str | None:
        if node is None:
            return ""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = self.text(node.left), self.text(node.right)
            return None if left is None or right is None else left + right
        if isinstance(node, ast.JoinedStr):
            parts = [self.text(v.value if isinstance(v, ast.FormattedValue) else v) for v in node.values]
            return None if None in parts else "".join(p for p in parts if p is not None)
        return None

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        kind = self.local.get(name) if isinstance(func, ast.Name) else (
            name if isinstance(func, ast.Attribute) and name in self.KINDS
            and isinstance(func.value, ast.Name) and func.value.id == "prometheus_client" else None)
        if kind is None:
            return
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        parts = [self.text(keywords.get("namespace")), self.text(keywords.get("subsystem")),
                 self.text(node.args[0] if node.args else keywords.get("name"))]
        if None in parts:
            self.unreadable.append(f"{self.path.relative_to(ROOT)}:{node.lineno}")
            return
        full = "_".join(p for p in parts if p)
        if kind == "Counter":
            base = full.removesuffix("_total")
            self.series |= {f"{base}_total", f"{base}_created"}
        elif kind == "Histogram":
            self.series |= {f"{full}_bucket", f"{full}_count", f"{full}_sum", f"{full}_created"}
        elif kind == "Summary":
            self.series |= {full, f"{full}_count", f"{full}_sum", f"{full}_created"}
        elif kind == "Info":
            self.series.add(f"{full}_info")
        else:
            self.series.add(full)


def shipped_python_files() -> Iterator[Path]:
    for package in sorted(ROOT.iterdir()):
        if package.is_dir() and (package / "__init__.py").exists() and package.name not in NOT_SHIPPED:
            yield from sorted(package.rglob("*.py"))


def code_metric_series() -> tuple[frozenset[str], list[str]]:
    """(series names the shipped code exposes, constructor calls whose name is not a literal)."""
    series: set[str] = set()
    unreadable: list[str] = []
    for path in shipped_python_files():
        tree = ast.parse(path.read_text(), str(path))
        visitor = MetricNames(path, tree)
        visitor.visit(tree)
        series |= visitor.series
        unreadable += visitor.unreadable
    return frozenset(series), unreadable


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
                "unless", "offset", "inf", "nan"}


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels, keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.$])([A-Za-z_:][\w:]*)\b(?!\s*\()", text):
        if match.group(1).lower() not in PROMQL_WORDS:
            names.add(match.group(1))
    return names


def promql_label_values(expr: str, label: str) -> set[str]:
    """Values a matcher of ``label`` names: label="a" or label=~"a|b" (plain alternatives only)."""
    values: set[str] = set()
    for operator, value in re.findall(rf'\b{label}\s*(=~|=)\s*"([^"]*)"', expr):
        values |= set(value.split("|")) if operator == "=~" else {value}
    return values
