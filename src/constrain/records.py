"""Records: classes that behave as ``@dataclass`` makes them, without writing and compiling
their methods when the module is imported.

``@dataclass`` writes ``__init__``, ``__repr__``, ``__eq__``, ``__hash__`` and, when frozen,
``__setattr__`` and ``__delattr__`` of each class as Python source and compiles it with
``exec``: about 5.5 million instructions for a frozen class of eight fields (callgrind), so the
twenty classes a remembered resolve imports cost a fifth of all it does. :func:`record` makes
the same class from shared functions instead: it lets :func:`dataclasses.dataclass` read the
fields (so :func:`dataclasses.fields`, :func:`dataclasses.replace` and
:func:`dataclasses.asdict` work as before) but generate nothing, then gives the class:

- ``__init__``: the fields in order, positional or by keyword, defaults and
  ``default_factory`` as declared; a missing, unknown or repeated argument is a ``TypeError``;
- ``__eq__``: equal when of the same class and every field with ``compare=True`` is equal
  (``NotImplemented`` for another class), as a dataclass's;
- ``__hash__``: frozen, the hash of those fields (``hash=`` of a field honoured); not frozen,
  none (unhashable), as a dataclass with ``eq=True``;
- ``__repr__``: ``Name(field=value, ...)`` over the fields with ``repr=True``;
- frozen (the default): assigning or deleting an attribute raises
  :class:`dataclasses.FrozenInstanceError`.

Instances keep their ``__dict__`` (code that builds them from saved state, such as the facts
snapshot, sets it directly). Type checkers see :func:`dataclasses.dataclass`'s behaviour through
:func:`typing.dataclass_transform`. Classes needing more (``order``, ``__post_init__``,
``slots``, ``InitVar``, inheritance between records) stay dataclasses.
"""

from __future__ import annotations

import dataclasses
import inspect
import reprlib
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

_T = TypeVar("_T")
_MISSING = dataclasses.MISSING


def _values(names: tuple[str, ...]) -> Callable[[object], tuple]:
    """``obj -> (obj.<name>, ...)``, a tuple even for one name or none."""
    if len(names) > 1:
        return attrgetter(*names)
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _init(cls: type, fields: tuple[dataclasses.Field, ...]) -> Callable[..., None]:
    names = tuple(f.name for f in fields)
    known = frozenset(names)
    count = len(names)
    optional = tuple(
        (f.name, f.default, f.default_factory) for f in fields
        if f.default is not _MISSING or f.default_factory is not _MISSING
    )
    qualname = cls.__qualname__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if len(args) == count and not kwargs:  # every field given in order
            self.__dict__.update(zip(names, args, strict=True))
            return
        if len(args) > count:
            raise TypeError(f"{qualname}.__init__() takes {count + 1} positional arguments "
                            f"but {len(args) + 1} were given")
        given = dict(zip(names, args, strict=False))  # fewer args than fields
        for name in kwargs:
            if name not in known:
                raise TypeError(f"{qualname}.__init__() got an unexpected keyword argument "
                                f"{name!r}")
            if name in given:
                raise TypeError(f"{qualname}.__init__() got multiple values for argument "
                                f"{name!r}")
        given.update(kwargs)
        if len(given) < count:
            for name, default, factory in optional:
                if name not in given:
                    given[name] = default if factory is _MISSING else factory()
            if len(given) < count:
                missing = [n for n in names if n not in given]
                listed = ", ".join(repr(n) for n in missing)
                raise TypeError(f"{qualname}.__init__() missing {len(missing)} required "
                                f"argument{'s' if len(missing) > 1 else ''}: {listed}")
        self.__dict__.update((name, given[name]) for name in names)  # fields in order

    __init__.__qualname__ = f"{qualname}.__init__"
    return __init__


def _methods(cls: Any, frozen: bool) -> None:
    fields = dataclasses.fields(cls)
    compared = _values(tuple(f.name for f in fields if f.compare))
    shown = tuple((f.name, attrgetter(f.name)) for f in fields if f.repr)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    @reprlib.recursive_repr()
    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{name}={get(self)!r}" for name, get in shown)
        return f"{self.__class__.__qualname__}({inner})"

    cls.__init__ = _init(cls, fields)
    cls.__eq__ = __eq__
    cls.__repr__ = __repr__
    if not frozen:
        cls.__hash__ = None  # as a dataclass with eq and no freeze
        return
    hashed = _values(tuple(f.name for f in fields
                           if (f.compare if f.hash is None else f.hash)))
    field_names = frozenset(f.name for f in fields)

    def __hash__(self: Any) -> int:
        return hash(hashed(self))

    def __setattr__(self: Any, name: str, value: object) -> None:
        if type(self) is cls or name in field_names:
            raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")
        super(cls, self).__setattr__(name, value)

    def __delattr__(self: Any, name: str) -> None:
        if type(self) is cls or name in field_names:
            raise dataclasses.FrozenInstanceError(f"cannot delete field {name!r}")
        super(cls, self).__delattr__(name)

    cls.__hash__ = __hash__
    cls.__setattr__ = __setattr__
    cls.__delattr__ = __delattr__
    for method in (__eq__, __hash__, __setattr__, __delattr__):
        method.__qualname__ = f"{cls.__qualname__}.{method.__name__}"


@overload
def record(cls: type[_T], /) -> type[_T]: ...
@overload
def record(*, frozen: bool = True) -> Callable[[type[_T]], type[_T]]: ...


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[_T] | None = None, /, *, frozen: bool = True) -> Any:
    """``@record`` (frozen) or ``@record(frozen=False)``: the class, as described above."""

    def make(cls: type[_T]) -> type[_T]:
        for name in ("__init__", "__eq__", "__hash__", "__repr__", "__setattr__",
                     "__delattr__", "__post_init__"):
            if name in cls.__dict__ and not (name == "__hash__" and cls.__dict__[name] is None):
                raise TypeError(f"{cls.__qualname__} defines {name}: make it a dataclass")
        for base in cls.__mro__[1:-1]:
            if dataclasses.is_dataclass(base):
                raise TypeError(f"{cls.__qualname__} inherits a dataclass: make it one too")
        if not cls.__doc__:  # else dataclasses makes one from inspect.signature (costly)
            cls.__doc__ = f"{cls.__name__}({', '.join(inspect.get_annotations(cls))})"
        made = dataclasses.dataclass(init=False, repr=False, eq=False)(cls)
        if any(not f.init or f.kw_only is True for f in dataclasses.fields(made)):  # type: ignore[arg-type]
            raise TypeError(f"{cls.__qualname__} has a field with init=False or kw_only: "
                            "make it a dataclass")
        _methods(made, frozen)
        return made

    return make if cls is None else make(cls)
