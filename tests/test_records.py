"""``constrain.records.record``: a class made by it behaves as ``@dataclass`` makes it -- the
same instances, equality, hashes, reprs, errors, ``dataclasses.replace``/``fields``/``asdict``,
pickling -- and the pipeline modules it is used in compile no code when imported.

Each check builds one class twice from the same body, once with ``@dataclass`` and once with
``@record``, and compares what a caller sees of the two.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys
from dataclasses import FrozenInstanceError, field

import pytest

from constrain.records import record


def _item(decorate):
    @decorate
    class Item:
        """A record with positional fields, defaults, a factory and fields left out of
        comparison, hashing or repr."""

        name: str
        version: int
        tags: tuple[str, ...] = ()
        extra: dict = field(default_factory=dict, compare=False)
        note: str | None = field(default=None, repr=False)
        weight: float = field(default=1.0, hash=False)

    return Item


def _both(frozen=True):
    return (_item(dataclasses.dataclass(frozen=frozen)),
            _item(record if frozen else record(frozen=False)))


def _calls():
    """Argument lists, each given to both classes."""
    return [
        (("a", 1), {}),
        (("a", 1, ("x",)), {}),
        (("a", 1, ("x",), {"k": 1}, "n", 2.5), {}),
        ((), {"version": 2, "name": "b"}),
        (("a",), {"version": 3, "weight": 0.5, "note": "why"}),
    ]


@pytest.mark.parametrize("frozen", [True, False])
def test_instances_are_those_a_dataclass_makes(frozen):
    made_by_dataclass, made_by_record = _both(frozen)
    for args, kwargs in _calls():
        a, b = made_by_dataclass(*args, **kwargs), made_by_record(*args, **kwargs)
        assert list(vars(a).items()) == list(vars(b).items())  # same values, fields in order
        assert repr(a) == repr(b)
        assert [f.name for f in dataclasses.fields(b)] == [f.name for f in dataclasses.fields(a)]
        assert dataclasses.asdict(b) == dataclasses.asdict(a)
        assert dataclasses.astuple(b) == dataclasses.astuple(a)
        if frozen:
            assert hash(b) == hash(a)
        else:
            with pytest.raises(TypeError):
                hash(b)
    # a default_factory gives each instance its own value
    assert made_by_record("a", 1).extra is not made_by_record("a", 1).extra


@pytest.mark.parametrize("frozen", [True, False])
def test_equality_is_a_dataclasss(frozen):
    _, Item = _both(frozen)
    base = Item("a", 1, ("x",), {"k": 1}, "n", 2.0)
    assert base == Item("a", 1, ("x",), {"other": 2}, "n", 2.0)  # extra: compare=False
    assert base != Item("a", 1, ("x",), {"k": 1}, "n", 3.0)  # weight: compared, not hashed
    assert base != Item("a", 2, ("x",), {"k": 1}, "n", 2.0)
    assert base != ("a", 1, ("x",), {"k": 1}, "n", 2.0)
    assert base.__eq__(object()) is NotImplemented
    other_class = _item(record if frozen else record(frozen=False))
    assert base != other_class("a", 1, ("x",), {"k": 1}, "n", 2.0)
    if frozen:
        assert {base: 1}[Item("a", 1, ("x",), {}, "n", 2.0)] == 1
        assert hash(base) == hash(Item("a", 1, ("x",), {}, "n", 9.0))  # weight: hash=False


def test_a_frozen_record_cannot_be_changed_and_replace_makes_a_new_one():
    made_by_dataclass, made_by_record = _both()
    a, b = made_by_dataclass("a", 1), made_by_record("a", 1)
    for obj in (a, b):
        with pytest.raises(FrozenInstanceError, match="cannot assign to field 'version'"):
            obj.version = 2
        with pytest.raises(FrozenInstanceError, match="cannot assign to field 'unknown'"):
            obj.unknown = 2
        with pytest.raises(FrozenInstanceError, match="cannot delete field 'name'"):
            del obj.name
    assert b.version == 1
    changed = dataclasses.replace(b, version=5, tags=("y",))
    assert (changed.name, changed.version, changed.tags, b.version) == ("a", 5, ("y",), 1)
    assert vars(changed) == vars(dataclasses.replace(a, version=5, tags=("y",)))


def test_a_mutable_record_can_be_changed():
    _, Item = _both(frozen=False)
    item = Item("a", 1)
    item.version = 2
    assert item == Item("a", 2)


@pytest.mark.parametrize("frozen", [True, False])
def test_bad_arguments_are_type_errors_as_for_a_dataclass(frozen):
    made_by_dataclass, made_by_record = _both(frozen)
    for args, kwargs, says in [
        (("a",), {}, "missing 1 required"),
        ((), {}, "missing 2 required"),
        (("a", 1), {"colour": "red"}, "unexpected keyword argument 'colour'"),
        (("a", 1), {"name": "b"}, "multiple values for argument 'name'"),
        (("a", 1, (), {}, None, 1.0, "seventh"), {}, "positional arguments"),
    ]:
        for cls in (made_by_dataclass, made_by_record):
            with pytest.raises(TypeError, match=says):
                cls(*args, **kwargs)


def test_records_pickle_and_copy_as_dataclasses_do():
    Item = _module_item()
    item = Item("a", 1, ("x",), {"k": 1}, "n", 2.0)
    for again in (pickle.loads(pickle.dumps(item)), copy.copy(item), copy.deepcopy(item)):
        assert again == item
        assert list(vars(again).items()) == list(vars(item).items())


@record
class _Pickled:
    """At module level, so pickle finds it by name."""

    name: str
    version: int
    tags: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)
    note: str | None = None
    weight: float = 1.0


def _module_item():
    return _Pickled


def test_what_record_cannot_make_the_same_is_refused():
    with pytest.raises(TypeError, match="defines __eq__"):
        @record
        class OwnEquality:
            name: str

            def __eq__(self, other):
                return True

            __hash__ = None  # type: ignore[assignment]

    with pytest.raises(TypeError, match="init=False or kw_only"):
        @record
        class NotInInit:
            name: str = field(default="", init=False)

    @dataclasses.dataclass(frozen=True)
    class Base:
        name: str

    with pytest.raises(TypeError, match="inherits a dataclass"):
        @record
        class Derived(Base):
            version: int = 0


def test_the_pipeline_modules_compile_no_code_when_imported():
    """What a resolve or an install imports builds its classes without compiling source: a ``@dataclass``
    added on that path (a few million instructions at every start) fails here. The standard
    library's and packaging's modules are imported first and not counted (urllib.parse, which
    pathlib imports, makes named tuples)."""
    code = (
        "import sys\n"
        "import argparse, configparser, datetime, hashlib, json, pathlib, shlex, threading\n"
        "import concurrent.futures, shutil\n"
        "import urllib.parse\n"
        "import packaging.requirements, packaging.specifiers, packaging.tags\n"
        "compiled = []\n"
        # a module imported from its source (no .pyc yet: a fresh clone, or
        # PYTHONDONTWRITEBYTECODE) is compiled from its file; generated code has no file
        "sys.addaudithook(lambda event, args: compiled.append(args[1]) "
        "if event == 'compile' and not str(args[1]).endswith('.py') else None)\n"
        "import constrain.cli.resolve, constrain.app.resolve, constrain.app.memo\n"
        "import constrain.target, constrain.config, constrain.constraints.sources\n"
        "import constrain.resolver, constrain.index.pages.repository\n"
        "import constrain.cli.install, constrain.app.install, constrain.install.fetch\n"
        "print(compiled)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert run.stdout.strip() == "[]"
