"""Task input validation: pydantic models, dataclasses, plain dicts.

A workflow's ``input_validator`` decides what the task function receives. The engine
stores and ships input as plain JSON-like data; the worker validates it against the
validator right before calling the function, so bad input fails the run with a
validation error and the function body never runs.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pydantic

from .._contract.wire_values import bounded_text, qualified_name, safe_str, to_wire

__all__ = ["EmptyModel", "InputValidationError", "InputValidator"]


class EmptyModel(pydantic.BaseModel):
    """The input of a task that takes none (extra fields are kept, as in hatchet-sdk)."""

    model_config = pydantic.ConfigDict(extra="allow")


class InputValidationError(ValueError):
    """Task input does not match the task's ``input_validator``."""


class InputValidator:
    """Validates and serializes input for one workflow.

    Args:
        validator: a pydantic model class, a dataclass type, ``dict`` (no validation
            beyond being a mapping), or ``None`` for :class:`EmptyModel`.
        owner: the workflow's name, for error messages.

    Raises:
        TypeError: ``validator`` is none of those.
    """

    def __init__(self, validator: Any, owner: str) -> None:
        self.owner = owner
        if validator is None:
            validator = EmptyModel
        if validator is dict:
            self.kind = "dict"
            self._adapter: pydantic.TypeAdapter[Any] | None = None
        elif isinstance(validator, type) and issubclass(validator, pydantic.BaseModel):
            self.kind = "pydantic"
            self._adapter = pydantic.TypeAdapter(validator)
        elif isinstance(validator, type) and dataclasses.is_dataclass(validator):
            self.kind = "dataclass"
            self._adapter = pydantic.TypeAdapter(validator)
        else:
            raise TypeError(
                f"workflow {owner!r}: input_validator must be a pydantic model class, a dataclass "
                f"type or dict, got {validator!r}"
            )
        self.validator = validator

    def validate(self, data: Any) -> Any:
        """Turn stored input into what the task function receives.

        Raises:
            InputValidationError: with pydantic's account of every problem.
        """
        if data is None:
            data = {}
        if self._adapter is None:
            if not isinstance(data, dict):
                raise InputValidationError(
                    f"workflow {self.owner!r} expects its input to be a mapping, got {type(data).__name__}"
                )
            return data
        try:
            return self._adapter.validate_python(data)
        except pydantic.ValidationError as exc:
            raise InputValidationError(
                f"input for workflow {self.owner!r} does not match {self.validator.__name__}: {exc}"
            ) from None
        except Exception as exc:  # a validator of the model's own raised something else
            raise InputValidationError(
                f"input for workflow {self.owner!r}: validating it as {self.validator.__name__} raised "
                f"{qualified_name(type(exc))}: {bounded_text(safe_str(exc), 2000)}"
            ) from exc

    def dump(self, value: Any) -> dict[str, Any]:
        """Turn what a caller passes to ``run`` into storable JSON-like data.

        Accepts an instance of the validator, a mapping, or ``None``.

        Raises:
            InputValidationError: the value cannot be turned into the validator's shape,
                or holds something the engine cannot carry (the message says what, and where).
        """
        if value is None:
            value = {}
        if isinstance(value, dict) and self._adapter is not None:
            # validate now, so a caller learns of bad input before anything is stored
            self.validate(value)
        elif not isinstance(value, dict | pydantic.BaseModel) and not (
            dataclasses.is_dataclass(value) and not isinstance(value, type)
        ):
            raise InputValidationError(
                f"input for workflow {self.owner!r} must be a {self.validator.__name__} "
                f"or a mapping, got {type(value).__name__}"
            )
        try:
            return to_wire(value, f"input for workflow {self.owner!r}")
        except TypeError as exc:
            raise InputValidationError(str(exc)) from None
