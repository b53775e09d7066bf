"""Rendering tenants' templates within limits: output size and time, checked on the way.

Jinja's sandbox stops a template from reaching Python's internals, but not from asking
for work: `{{ "x" * 10**7 }}` is 10 MB from 18 characters, `"%099999999d" % 1` a
gigabyte, two nested loops over `range(99999)` ten billion steps. A render here runs
against a budget (`RenderLimits`, from settings): every loop step, call, filter and
operator checks the time, and anything that would build a value or an output larger
than the cap is refused before it is built, as far as its inputs tell (and after, by
its size, where they cannot). Python cannot interrupt a thread from outside, so the
budget is checked from inside the render; each check is a clock read.
"""

from __future__ import annotations

import contextvars
import functools
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, nodes, pass_eval_context
from jinja2.nodes import EvalContext
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

from fiscus.core.config import Settings
from fiscus.messaging.errors import TemplateOutputTooLarge, TemplateRenderTooSlow


@dataclass(frozen=True, slots=True)
class RenderLimits:
    """How large a rendered part may be, and how long a whole render may take."""

    max_output_chars: int = 100_000
    max_render_ms: int = 250

    @classmethod
    def of(cls, settings: Settings) -> RenderLimits:
        """The limits the settings choose."""
        return cls(settings.template_max_output_chars, settings.template_max_render_ms)


class _Budget:
    """One render's allowance; every check is cheap enough to run at each loop step."""

    def __init__(self, limits: RenderLimits) -> None:
        self.limits = limits
        self.deadline = time.monotonic() + limits.max_render_ms / 1000

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateRenderTooSlow(
                f"The template did not render within {self.limits.max_render_ms} ms."
            )

    def size(self, chars: int) -> None:
        if chars > self.limits.max_output_chars:
            raise TemplateOutputTooLarge(
                f"The template would produce more than {self.limits.max_output_chars} characters."
            )


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "fiscus_template_budget", default=None
)


def _current() -> _Budget:
    budget = _budget.get()
    assert budget is not None, "templates render only through render_within"
    return budget


def _weight(value: Any) -> int:
    """The characters a value stands for: strings by length, containers by their items."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | tuple | set | frozenset | dict | range):
        return len(value) + sum(len(v) for v in value if isinstance(v, str))
    return 1


def _estimate(args: Iterable[Any]) -> int:
    """An upper bound for what an operation on `args` builds: the largest input times the
    next largest (a replacement, a join), plus every count or width asked for."""
    weights = sorted((_weight(a) for a in args if not isinstance(a, int | float)), reverse=True)
    counts = sum(a for a in args if isinstance(a, int) and not isinstance(a, bool) and a > 0)
    largest = weights[0] if weights else 0
    return largest * (1 + (weights[1] if len(weights) > 1 else 0)) + counts


_DIGITS = re.compile(r"\d+")


def _check_format(template: str, budget: _Budget) -> None:
    # A width or precision in a format string ("%099999999d", "{:>999999999}") allocates
    # before anything can measure the result.
    for digits in _DIGITS.findall(template):
        if len(digits) > 9 or int(digits) > budget.limits.max_output_chars:
            budget.size(budget.limits.max_output_chars + 1)


def _bounded_range(*args: int) -> range:
    budget = _current()
    budget.tick()
    steps = range(*args)
    if len(steps) > budget.limits.max_output_chars:
        raise TemplateRenderTooSlow(
            f"A range of {len(steps)} steps is more than the template limit of"
            f" {budget.limits.max_output_chars}."
        )
    return steps


def _bounded_iter(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _current()
    for item in iterable:
        budget.tick()
        yield item


@pass_eval_context
def _bounded_concat(eval_ctx: EvalContext, *parts: Any) -> str:
    # `a ~ b ~ c` joins every part at once; measure them before joining.
    _current().size(sum(_weight(p) if isinstance(p, str) else len(str(p)) for p in parts))
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


_BOUNDED = "fiscus_bounded"
_LOOP = "__fiscus_loop"
_CONCAT = "__fiscus_concat"


class _Budgeted(NodeTransformer):
    """Route every `for` loop's items and every `~` concatenation through the budget."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - jinja dispatches by node class name
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(_LOOP, "load"), [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802 - as above
        self.generic_visit(node)
        return nodes.Call(nodes.Name(_CONCAT, "load"), list(node.nodes), [], None, None)


def _bounded_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps jinja's pass_context / pass_eval_context marks
    def bounded(*args: Any, **kwargs: Any) -> Any:
        budget = _current()
        budget.tick()
        values = [*args, *kwargs.values()]
        if name == "indent" and args and isinstance(args[-1], str | int):
            # indent(width) adds `width` characters to every line.
            width = next((a for a in values[1:] if isinstance(a, int)), 4)
            text = next((a for a in values if isinstance(a, str)), "")
            budget.size(len(text) + (text.count("\n") + 1) * _weight(width))
        if name == "format":
            _check_format(next((a for a in values if isinstance(a, str)), ""), budget)
        budget.size(_estimate(values))
        result = function(*args, **kwargs)
        budget.size(_weight(result))
        return result

    setattr(bounded, _BOUNDED, True)
    return bounded


class BoundedSandbox(SandboxedEnvironment):
    """The sandbox, with every loop, call, filter and size-changing operator on a budget."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, *, html: bool) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=html)
        self.globals.update({"range": _bounded_range, _LOOP: _bounded_iter})
        self.globals[_CONCAT] = _bounded_concat

    def add_filter(self, name: str, function: Callable[..., Any]) -> None:
        """Add a filter that runs on the budget like the built-in ones."""
        self.filters[name] = function
        self._bound_filters()

    def _bound_filters(self) -> None:
        for name, function in list(self.filters.items()):
            if not getattr(function, _BOUNDED, False):
                self.filters[name] = _bounded_filter(name, function)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        self._bound_filters()
        tree = super()._parse(source, name, filename)
        budgeted = _Budgeted().visit(tree)
        assert isinstance(budgeted, nodes.Template)
        budgeted.set_environment(self)
        return budgeted

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """Refuse an operator whose result would pass the limits, before computing it."""
        budget = _current()
        budget.tick()
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and right > 0:
            budget.size(abs(left).bit_length() * right // 8)
        elif operator == "*":
            for many, times in ((left, right), (right, left)):
                if isinstance(times, int) and not isinstance(many, int | float):
                    budget.size(_weight(many) * times)
        elif operator == "%" and isinstance(left, str):
            _check_format(left, budget)
        result = super().call_binop(context, operator, left, right)
        budget.size(_weight(result))
        return result

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Every call a template makes (methods, macros, globals), on the budget."""
        budget = _current()
        budget.tick()
        owner = getattr(__obj, "__self__", None)
        wrapped = getattr(__obj, "__wrapped__", None)  # the sandbox's str.format wrapper
        if owner is None and wrapped is not None:
            owner = getattr(wrapped, "__self__", None)
            if isinstance(owner, str):
                _check_format(owner, budget)
        if isinstance(owner, str | list | tuple | dict | set):
            budget.size(_estimate([owner, *args, *kwargs.values()]))
        result = super().call(__context, __obj, *args, **kwargs)
        budget.size(_weight(result))
        return result


def render_within(
    environment: BoundedSandbox, source: str, variables: dict[str, Any], budget: _Budget
) -> str:
    """Render `source`, streaming, on `budget`; the output is capped as it is produced."""
    token = _budget.set(budget)
    try:
        chunks: list[str] = []
        size = 0
        for chunk in environment.from_string(source).generate(variables):
            budget.tick()
            size += len(chunk)
            budget.size(size)
            chunks.append(chunk)
        return "".join(chunks)
    finally:
        _budget.reset(token)


def budget_for(limits: RenderLimits) -> _Budget:
    """A fresh budget: one per message rendered (its subject, text and HTML share it)."""
    return _Budget(limits)
