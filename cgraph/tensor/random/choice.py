"""choice(replace=False): distinct positions drawn from a population."""

from __future__ import annotations

from typing import Any


def without_replacement(srng: Any, count: Any, size: Any, p: Any) -> Any:
    """Not drawn yet: raises NotImplementedError."""
    raise NotImplementedError("choice: replace=False is not supported yet")
