"""Amazon EventBridge event patterns, evaluated locally.

Validates a pattern once, compiles it into closures, and matches event envelopes the way AWS does.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import math
import operator
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, NamedTuple

__all__ = [
    "CompiledPattern",
    "InvalidPattern",
    "compile_pattern",
    "matches",
    "validate",
]

# Semantics follow the AWS user guide pages "Amazon EventBridge event patterns" and "Content
# filtering in Amazon EventBridge event patterns"; where the guide is silent, they follow
# aws/event-ruler, the open-source matcher EventBridge runs ("Ruler" in the comments below).

Predicate = Callable[[Any], bool]
FieldMatcher = Callable[[Any], bool]
ObjectMatcher = Callable[[Mapping[str, Any]], bool]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_MISSING: Final = object()  # the field is not in the event at all
_UNSUPPORTED: Final = object()  # a Python value with no JSON counterpart
_ARRAYS: Final = (list, tuple)
_SCALARS: Final = frozenset({str, int, float, bool, type(None)})
_OR: Final = "$or"

# Leaf alternatives fall in these groups; each group only ever sees event values it can match.
_STRING: Final = "string"  # prefix, suffix, wildcard, cidr ...: JSON strings only
_NUMBER: Final = "number"  # numeric: JSON numbers only, never numeric strings
_ANY: Final = "any"  # anything-but: every leaf value, whatever its type
_PRESENT: Final = "present"  # {"exists": true}
_ABSENT: Final = "absent"  # {"exists": false}

Operator = tuple[str, Predicate]


class InvalidPattern(ValueError):
    """A pattern EventBridge would reject; the message starts with the path of the bad part."""


def _fail(path: str, problem: str) -> InvalidPattern:
    """Build the error so callers can write ``raise _fail(...)`` and keep control flow visible."""
    return InvalidPattern(f"{path or '(root)'}: {problem}")


def _show(value: object) -> str:
    """Render pattern fragments like the JSON the user wrote (tuples shown as lists)."""
    return repr(list(value)) if isinstance(value, tuple) else repr(value)


def _is_number(value: object) -> bool:
    """True for JSON numbers; bool is an int subclass in Python but a different JSON type."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite_number(value: object) -> bool:
    return _is_number(value) and math.isfinite(value)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=4096)
def _parse_ip(text: str) -> IPAddress | None:
    """Parse an event string as an IP address; cached because events repeat the same addresses."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# --- operators -------------------------------------------------------------------------------
# One small builder per operator: validate the operand, return (group, predicate).


def _string_operand(path: str, name: str, operand: object) -> str:
    if not isinstance(operand, str):
        raise _fail(path, f"{name} expects a string, got {_show(operand)}")
    return operand


def _ignore_case_operand(path: str, name: str, operand: dict[Any, Any]) -> str:
    """Unwrap ``{"equals-ignore-case": "x"}``, the only object prefix and suffix accept."""
    if len(operand) != 1 or "equals-ignore-case" not in operand:
        raise _fail(
            path,
            f"{name} expects a string or {{'equals-ignore-case': string}}, got {_show(operand)}",
        )
    return _string_operand(path, f"{name}/equals-ignore-case", operand["equals-ignore-case"])


def _prefix(path: str, operand: object) -> Operator:
    """``{"prefix": "us-"}`` or ``{"prefix": {"equals-ignore-case": "US-"}}``."""
    if isinstance(operand, dict):
        lowered = _ignore_case_operand(path, "prefix", operand).lower()
        return _STRING, lambda value: value.lower().startswith(lowered)
    text = _string_operand(path, "prefix", operand)
    return _STRING, lambda value: value.startswith(text)


def _suffix(path: str, operand: object) -> Operator:
    """``{"suffix": ".png"}`` or ``{"suffix": {"equals-ignore-case": ".PNG"}}``."""
    if isinstance(operand, dict):
        lowered = _ignore_case_operand(path, "suffix", operand).lower()
        return _STRING, lambda value: value.lower().endswith(lowered)
    text = _string_operand(path, "suffix", operand)
    return _STRING, lambda value: value.endswith(text)


def _equals_ignore_case(path: str, operand: object) -> Operator:
    lowered = _string_operand(path, "equals-ignore-case", operand).lower()
    return _STRING, lambda value: value.lower() == lowered


def _wildcard_regex(path: str, name: str, text: str) -> str:
    """Translate a wildcard to a regex: only ``*`` is special, ``\\*`` and ``\\\\`` are escapes.

    AWS rejects consecutive wildcards (``**``) and a backslash before anything else.
    """
    parts: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if text.startswith("**", index):
                raise _fail(
                    path,
                    f"{name}: consecutive wildcard characters are not allowed in {text!r}",
                )
            parts.append(".*")
        elif char == "\\":
            escaped = text[index + 1 : index + 2]
            if escaped not in ("*", "\\"):
                raise _fail(path, f"{name}: a backslash may only escape '*' or '\\' in {text!r}")
            parts.append(re.escape(escaped))
            index += 1
        else:
            parts.append(re.escape(char))
        index += 1
    return "".join(parts)


def _wildcard(path: str, operand: object) -> Operator:
    text = _string_operand(path, "wildcard", operand)
    fullmatch = re.compile(_wildcard_regex(path, "wildcard", text), re.DOTALL).fullmatch
    return _STRING, lambda value: fullmatch(value) is not None


_LOWER_BOUNDS: Final = frozenset({">", ">="})
_UPPER_BOUNDS: Final = frozenset({"<", "<="})
_NUMERIC_OPERATORS: Final = ("=", "<", "<=", ">", ">=")


def _numeric(path: str, operand: object) -> Operator:
    """``{"numeric": [">", 0, "<=", 5]}``: "=", or one bound, or a lower bound then an upper one.

    Only JSON numbers match, never numeric strings (AWS: "works with values that are JSON numbers").
    """
    shown = _show(operand)
    if (
        not isinstance(operand, _ARRAYS)
        or len(operand) not in (2, 4)
        or not all(isinstance(op, str) for op in operand[0::2])
        or not all(_is_number(bound) for bound in operand[1::2])
    ):
        raise _fail(path, f"numeric expects operator/value pairs, got {shown}")
    ops, bounds = tuple(operand[0::2]), tuple(operand[1::2])
    for op in ops:
        if op not in _NUMERIC_OPERATORS:
            raise _fail(
                path,
                f"numeric: unknown operator {op!r}, "
                f"expected one of {', '.join(_NUMERIC_OPERATORS)}",
            )
    if not all(math.isfinite(bound) for bound in bounds):
        raise _fail(path, f"numeric: bounds must be finite numbers, got {shown}")

    if len(ops) == 1:
        (op,), (bound,) = ops, bounds
        # partial(operator.lt, 0)(value) is "0 < value": a C-level call, no Python frame.
        compare = {
            "=": operator.eq,
            ">": operator.lt,
            ">=": operator.le,
            "<": operator.gt,
            "<=": operator.ge,
        }
        return _NUMBER, functools.partial(compare[op], bound)

    # Ruler accepts exactly "lower bound, then upper bound" and rejects empty ranges.
    if ops[0] not in _LOWER_BOUNDS or ops[1] not in _UPPER_BOUNDS:
        raise _fail(
            path,
            f"numeric: a range is a lower bound ('>' or '>=') followed by an upper bound "
            f"('<' or '<='), got {shown}",
        )
    low, high = bounds
    if low >= high:
        raise _fail(
            path,
            f"numeric: empty range, lower bound {low} must be below upper bound {high}",
        )
    return _NUMBER, _between(low, ops[0] == ">=", high, ops[1] == "<=")


def _between(low: float, low_inclusive: bool, high: float, high_inclusive: bool) -> Predicate:
    """One chained comparison per bound combination, so matching never branches on the operators."""
    if low_inclusive and high_inclusive:
        return lambda value: low <= value <= high
    if low_inclusive:
        return lambda value: low <= value < high
    if high_inclusive:
        return lambda value: low < value <= high
    return lambda value: low < value < high


def _cidr(path: str, operand: object) -> Operator:
    """``{"cidr": "10.0.0.0/24"}`` (IPv4 or IPv6); strings that are not IP addresses never match."""
    text = _string_operand(path, "cidr", operand)
    address, slash, bits = text.partition("/")
    if not slash or not bits.isdigit():
        raise _fail(path, f"cidr: {text!r} is not address/prefix-length")
    try:
        # strict=False: like Ruler, host bits after the prefix are ignored, not an error.
        network: IPNetwork = ipaddress.ip_network(text, strict=False)
    except ValueError as error:
        raise _fail(path, f"cidr: {text!r} is not a valid CIDR block ({error})") from None
    if network.prefixlen == network.max_prefixlen:
        # Ruler: "IPv4 mask bits must be < 32" / "IPv6 mask bits must be < 128".
        raise _fail(
            path,
            f"cidr: prefix length must be below {network.max_prefixlen}; "
            f"match a single address with [{address!r}] instead",
        )

    def in_network(value: str) -> bool:
        ip = _parse_ip(value)
        return ip is not None and ip in network  # `in` is False across IPv4/IPv6

    return _STRING, in_network


def _exists(path: str, operand: object) -> Operator:
    """``{"exists": true|false}``; what counts as present is decided in ``_match_other``."""
    if not isinstance(operand, bool):
        raise _fail(path, f"exists expects true or false, got {_show(operand)}")
    return (_PRESENT if operand else _ABSENT), _always


def _anything_but(path: str, operand: object) -> Operator:
    """``{"anything-but": ...}``: a string, a number, a list of only one of those, or an object.

    Ruler evaluates it per leaf value of any JSON type, so ``{"anything-but": "x"}`` also matches
    numbers, booleans and null, while a missing field never matches (there is no value to test).
    """
    if isinstance(operand, dict):
        return _anything_but_operator(path, operand)
    values = list(operand) if isinstance(operand, _ARRAYS) else [operand]
    if values and all(isinstance(value, str) for value in values):
        strings = frozenset(values)
        return _ANY, lambda value: not (type(value) is str and value in strings)
    if values and all(_is_finite_number(value) for value in values):
        # 5 == 5.0 and hash(5) == hash(5.0), so set membership is numeric equality.
        numbers = frozenset(values)

        def not_excluded_number(value: Any) -> bool:
            kind = type(value)
            return not ((kind is int or kind is float) and value in numbers)

        return _ANY, not_excluded_number
    raise _fail(
        path,
        "anything-but expects a string, a number, or a non-empty list of only strings or only "
        f"numbers, got {_show(operand)}",
    )


def _anything_but_operator(path: str, operand: dict[Any, Any]) -> Operator:
    """``{"anything-but": {"prefix"|"suffix"|"equals-ignore-case"|"wildcard": str or [str, ...]}}``.

    The list forms are accepted because Ruler accepts them for all four operators.
    """
    if len(operand) != 1 or next(iter(operand)) not in _ANYTHING_BUT_OPERATORS:
        raise _fail(
            path,
            f"anything-but accepts one of {', '.join(sorted(_ANYTHING_BUT_OPERATORS))} inside an "
            f"object, got {_show(operand)}",
        )
    ((name, raw),) = operand.items()
    texts = list(raw) if isinstance(raw, _ARRAYS) else [raw]
    if not texts or not all(isinstance(text, str) for text in texts):
        raise _fail(
            path,
            f"anything-but/{name} expects a string or a non-empty list of strings, "
            f"got {_show(raw)}",
        )
    if name in ("prefix", "suffix") and "" in texts:  # rejected by Ruler too
        raise _fail(path, f"anything-but/{name} does not allow an empty string")

    if name == "prefix":
        prefixes = tuple(texts)
        return (
            _ANY,
            lambda value: not (type(value) is str and value.startswith(prefixes)),
        )
    if name == "suffix":
        suffixes = tuple(texts)
        return _ANY, lambda value: not (type(value) is str and value.endswith(suffixes))
    if name == "equals-ignore-case":
        lowered = frozenset(text.lower() for text in texts)
        return _ANY, lambda value: not (type(value) is str and value.lower() in lowered)
    regex = "|".join(
        f"(?:{_wildcard_regex(path, 'anything-but/wildcard', text)})" for text in texts
    )
    fullmatch = re.compile(regex, re.DOTALL).fullmatch
    return _ANY, lambda value: not (type(value) is str and fullmatch(value) is not None)


_ANYTHING_BUT_OPERATORS: Final = frozenset({"prefix", "suffix", "equals-ignore-case", "wildcard"})

_OPERATORS: Final[dict[str, Callable[[str, object], Operator]]] = {
    "prefix": _prefix,
    "suffix": _suffix,
    "equals-ignore-case": _equals_ignore_case,
    "wildcard": _wildcard,
    "anything-but": _anything_but,
    "numeric": _numeric,
    "cidr": _cidr,
    "exists": _exists,
}


# --- leaves ----------------------------------------------------------------------------------


class _Leaf:
    """The alternatives of one pattern array (OR), grouped by the JSON type they can match."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.strings: set[str] = set()
        self.numbers: set[int | float] = set()
        self.constants: set[bool | None] = set()  # true, false, null
        self.predicates: dict[str, list[Predicate]] = {
            _STRING: [],
            _NUMBER: [],
            _ANY: [],
        }
        self.present = False
        self.absent = False

    def add(self, item: object) -> None:
        if isinstance(item, str):
            self.strings.add(item)
            ip = _parse_ip(item)
            if ip is not None:
                # Ruler turns an IP literal into a one-address range, so "2001:db8::1" also
                # matches "2001:DB8:0::1".
                self.predicates[_STRING].append(lambda value, ip=ip: _parse_ip(value) == ip)
        elif isinstance(item, bool) or item is None:
            self.constants.add(item)
        elif _is_number(item):
            if not math.isfinite(item):  # type: ignore[arg-type]
                raise _fail(self.path, f"numbers must be finite, got {item!r}")
            self.numbers.add(item)  # type: ignore[arg-type]
        elif isinstance(item, dict):
            self._add_operator(item)
        elif isinstance(item, _ARRAYS):
            raise _fail(
                self.path,
                f"arrays cannot be nested inside a pattern array, got {_show(item)}",
            )
        else:
            raise _fail(
                self.path,
                "values must be strings, numbers, booleans, null or operator objects, "
                f"got {type(item).__name__} {item!r}",
            )

    def _add_operator(self, item: dict[Any, Any]) -> None:
        if len(item) != 1:
            raise _fail(
                self.path,
                f"an operator object needs exactly one key, got {_show(item)}",
            )
        ((name, operand),) = item.items()
        build = _OPERATORS.get(name)
        if build is None:
            raise _fail(
                self.path,
                f"unknown operator {name!r}, expected one of {', '.join(sorted(_OPERATORS))}",
            )
        group, predicate = build(self.path, operand)
        if group == _PRESENT:
            self.present = True
        elif group == _ABSENT:
            self.absent = True
        else:
            self.predicates[group].append(predicate)

    def matcher(self) -> FieldMatcher:
        """Freeze into a field matcher, specialised for the common exact-strings-only leaf."""
        scalar = self._scalar_matcher()
        absent = self.absent
        string_tests, number_tests = self.predicates[_STRING], self.predicates[_NUMBER]
        plain = not (self.constants or self.present or self.absent or self.predicates[_ANY])
        if plain and not (self.numbers or string_tests or number_tests):
            strings = frozenset(self.strings)

            def exact_strings(value: Any) -> bool:  # ["a", "b"]: the most common leaf
                if type(value) is str:
                    return value in strings
                return _match_other(value, scalar, absent)

            return exact_strings

        if plain and not (self.strings or self.numbers or string_tests) and len(number_tests) == 1:
            (test,) = number_tests

            def one_numeric(value: Any) -> bool:  # [{"numeric": [...]}]
                kind = type(value)
                if kind is int or kind is float:
                    return test(value)
                if kind in _SCALARS:
                    return False
                return _match_other(value, scalar, absent)

            return one_numeric

        def field(value: Any) -> bool:
            if type(value) in _SCALARS:
                return scalar(value)
            return _match_other(value, scalar, absent)

        return field

    def _scalar_matcher(self) -> Predicate:
        """Match one plain JSON scalar (str, int, float, bool, None) against every alternative."""
        if self.present:
            return _always  # {"exists": true}: any leaf value is a match
        strings = frozenset(self.strings)
        numbers = frozenset(self.numbers)
        constants = frozenset(self.constants)
        string_tests = tuple(self.predicates[_STRING])
        number_tests = tuple(self.predicates[_NUMBER])
        any_tests = tuple(self.predicates[_ANY])

        def scalar(value: Any) -> bool:
            kind = type(value)
            if kind is str:
                if value in strings:
                    return True
                for test in string_tests:
                    if test(value):
                        return True
            elif kind is int or kind is float:
                if value in numbers:
                    return True
                for test in number_tests:
                    if test(value):
                        return True
            elif value in constants:  # bool or None; `True in {1}` cannot happen here
                return True
            for test in any_tests:  # noqa: SIM110 - any(<genexpr>) allocates on every event
                if test(value):
                    return True
            return False

        return scalar


def _always(value: object) -> bool:
    return True


def _plain_scalar(value: object) -> object:
    """Turn str/int/float subclasses (e.g. enums) into the JSON scalar they stand for."""
    if isinstance(value, str):
        return str.__str__(value)  # str() of a (str, Enum) member is "Color.RED"
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return _UNSUPPORTED


def _match_other(value: Any, scalar: Predicate, absent: bool) -> bool:
    """Slow path for a leaf whose event value is missing, an object, an array or an odd type."""
    if value is _MISSING or isinstance(value, Mapping):
        # AWS: "Exists matching only works on leaf nodes"; a field holding an object is not a
        # leaf, so {"exists": false} matches it and {"exists": true} does not.
        return absent
    if isinstance(value, _ARRAYS):
        found = _match_array(value, scalar)
        # An empty array carries no value (Ruler flattens it away): treated as absent.
        return absent if found is None else found
    plain = _plain_scalar(value)
    return plain is not _UNSUPPORTED and scalar(plain)


def _match_array(items: list[Any] | tuple[Any, ...], scalar: Predicate) -> bool | None:
    """AWS: an event array matches if any element matches; None means it held no leaf value."""
    found: bool | None = None
    for item in items:
        if type(item) in _SCALARS:
            if scalar(item):
                return True
            found = False
        elif isinstance(item, _ARRAYS):
            nested = _match_array(item, scalar)  # Ruler flattens nested arrays
            if nested:
                return True
            if nested is False:
                found = False
        elif isinstance(item, Mapping):
            continue  # objects in the array hold deeper fields, not values of this one
        else:
            plain = _plain_scalar(item)
            if plain is not _UNSUPPORTED and scalar(plain):
                return True
            found = False
    return found


# --- objects ---------------------------------------------------------------------------------


class _Object(NamedTuple):
    """A compiled pattern object, before it is frozen into a closure."""

    fields: tuple[tuple[str, FieldMatcher], ...]  # AND; cheap exact-string leaves first
    alternatives: tuple[tuple[ObjectMatcher, ...], ...]  # one tuple per "$or" key: AND of ORs
    empty_matches: bool  # whether it matches {}: decided now, used when the event has no object


def _child_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _compile_object(pattern: object, path: str, inside_or: bool = False) -> _Object:
    """Validate and compile one pattern object (the whole pattern, a nested one or a $or branch)."""
    if not isinstance(pattern, dict):
        raise _fail(
            path,
            f"a pattern must be a JSON object, got {type(pattern).__name__} {_show(pattern)}",
        )
    if not pattern:
        raise _fail(path, "empty objects are not allowed in a pattern")

    fields: list[tuple[int, str, FieldMatcher]] = []
    alternatives: list[tuple[ObjectMatcher, ...]] = []
    empty_matches = True
    for key, value in pattern.items():
        if not isinstance(key, str):
            raise _fail(path, f"field names must be strings, got {key!r}")
        child = _child_path(path, key)
        if key == _OR:
            group, group_empty = _compile_or(value, child)
            alternatives.append(group)
            empty_matches = empty_matches and group_empty
            continue
        if inside_or and key in _OPERATORS:
            # Ruler reserves operator names as field names inside $or, to catch misplaced operators.
            raise _fail(child, f"{key!r} is an operator and cannot be a field name inside $or")
        if isinstance(value, dict):
            nested = _compile_object(value, child, inside_or)
            fields.append((2, key, _nested_field(nested)))
            empty_matches = empty_matches and nested.empty_matches
        elif isinstance(value, _ARRAYS):
            if not value:
                raise _fail(child, "empty arrays are not allowed; list at least one value")
            leaf = _Leaf(child)
            for item in value:
                leaf.add(item)
            cost = 0 if leaf.strings and not leaf.absent else 1
            fields.append((cost, key, leaf.matcher()))
            empty_matches = empty_matches and leaf.absent
        else:
            raise _fail(
                child,
                f"values must be given as an array (e.g. [{_show(value)}]) or a nested object, "
                f"got {type(value).__name__} {_show(value)}",
            )

    fields.sort(key=lambda field: field[0])  # stable: pattern order within a cost class
    return _Object(
        tuple((key, matcher) for _, key, matcher in fields),
        tuple(alternatives),
        empty_matches,
    )


def _compile_or(value: object, path: str) -> tuple[tuple[ObjectMatcher, ...], bool]:
    """``"$or": [{...}, {...}]``: the enclosing object matches if any alternative does."""
    if not isinstance(value, _ARRAYS) or len(value) < 2:
        raise _fail(
            path,
            f"$or expects an array of at least 2 pattern objects, got {_show(value)}",
        )
    branches = [
        _compile_object(branch, f"{path}[{index}]", inside_or=True)
        for index, branch in enumerate(value)
    ]
    return (
        tuple(_object_matcher(branch) for branch in branches),
        any(branch.empty_matches for branch in branches),
    )


def _nested_field(nested: _Object) -> FieldMatcher:
    """Match a nested pattern against the event value at its key."""
    sub = _object_matcher(nested)
    empty_matches = nested.empty_matches
    if len(nested.fields) == 1 and not nested.alternatives:
        # {"detail": {"x": [...]}}: look the one field up here and save a call per event.
        ((key, field),) = nested.fields
        missing = _MISSING

        def nested_one(value: Any) -> bool:
            if type(value) is dict:
                return field(value.get(key, missing))
            return _match_nested_other(value, sub, empty_matches)

        return nested_one

    def nested_many(value: Any) -> bool:
        if type(value) is dict:
            return sub(value)
        return _match_nested_other(value, sub, empty_matches)

    return nested_many


def _match_nested_other(value: Any, sub: ObjectMatcher, empty_matches: bool) -> bool:
    """Slow path for a nested pattern whose event value is not a plain dict."""
    if isinstance(value, Mapping):
        return sub(value)
    if isinstance(value, _ARRAYS):
        objects = list(_objects_in(value))
        if objects:
            # A nested pattern matches an array of objects if one object matches on its own;
            # Ruler never combines fields from different elements of the same array.
            return any(sub(item) for item in objects)
    # Missing, a scalar, or an array without objects: nothing exists below this key.
    return empty_matches


def _objects_in(items: list[Any] | tuple[Any, ...]) -> Iterator[Mapping[str, Any]]:
    for item in items:
        if isinstance(item, Mapping):
            yield item
        elif isinstance(item, _ARRAYS):
            yield from _objects_in(item)


def _object_matcher(compiled: _Object) -> ObjectMatcher:
    """AND over the fields (a missing one is passed as ``_MISSING``), then every $or group.

    Up to three plain fields are unrolled: no loop and no tuple unpacking per event.
    """
    fields, alternatives = compiled.fields, compiled.alternatives
    missing = _MISSING
    if not alternatives and len(fields) == 1:
        ((key1, field1),) = fields
        return lambda event: field1(event.get(key1, missing))
    if not alternatives and len(fields) == 2:
        (key1, field1), (key2, field2) = fields
        return lambda event: field1(event.get(key1, missing)) and field2(event.get(key2, missing))
    if not alternatives and len(fields) == 3:
        (key1, field1), (key2, field2), (key3, field3) = fields
        return lambda event: (
            field1(event.get(key1, missing))
            and field2(event.get(key2, missing))
            and field3(event.get(key3, missing))
        )

    def all_of(event: Mapping[str, Any]) -> bool:
        for key, field in fields:
            if not field(event.get(key, missing)):
                return False
        for group in alternatives:
            for alternative in group:
                if alternative(event):
                    break
            else:
                return False
        return True

    return all_of


# --- public API ------------------------------------------------------------------------------


class CompiledPattern:
    """A validated pattern turned into closures: compile once, call ``matches(event)`` per event.

    ``matches`` is the compiled closure itself rather than a method, which saves a call per
    event. It takes the whole envelope as a dict (source, detail-type, detail, ...).
    """

    __slots__ = ("matches", "pattern")

    matches: ObjectMatcher
    pattern: dict[str, Any]

    def __init__(self, pattern: dict[str, Any], match: ObjectMatcher) -> None:
        self.pattern = pattern
        self.matches = match

    def __repr__(self) -> str:
        return f"CompiledPattern({self.pattern!r})"


def compile_pattern(pattern: dict[str, Any]) -> CompiledPattern:
    """Validate ``pattern`` and compile it; raises InvalidPattern naming the offending part."""
    if isinstance(pattern, dict) and not pattern:
        raise _fail("", "a pattern must not be empty; EventBridge rejects {}")
    return CompiledPattern(pattern, _object_matcher(_compile_object(pattern, "")))


def validate(pattern: dict[str, Any]) -> None:
    """Raise InvalidPattern if EventBridge would reject ``pattern``."""
    compile_pattern(pattern)


@functools.lru_cache(maxsize=1024)
def _compile_canonical(canonical: str) -> CompiledPattern:
    return compile_pattern(json.loads(canonical))


def matches(pattern: dict[str, Any], event: Mapping[str, Any]) -> bool:
    """One-off match; compiled patterns are cached by their canonical JSON form.

    The cache key is the JSON that EventBridge would receive, so tuples count as arrays here.
    """
    try:
        canonical = json.dumps(pattern, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        # Not plain JSON (NaN, a set, mixed key types): compile directly for a precise error.
        return compile_pattern(pattern).matches(event)
    return _compile_canonical(canonical).matches(event)
