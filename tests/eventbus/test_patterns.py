"""Tests for the local EventBridge event-pattern matcher (no Django needed)."""

from __future__ import annotations

import enum
import math
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventbus.patterns import (
    CompiledPattern,
    InvalidPattern,
    compile_pattern,
    matches,
    validate,
)

ENVELOPE: dict[str, Any] = {
    "version": "0",
    "id": "6f1c1c1e-0000-4000-8000-000000000001",
    "detail-type": "ItemAddedToCart",
    "source": "shop.cart",
    "account": "000000000000",
    "time": "2026-11-26T10:00:00Z",
    "region": "local",
    "resources": [],
    "detail": {"cart_id": "c-1", "sku": "A1", "quantity": 2},
}


def case(pattern: dict[str, Any], event: dict[str, Any], expected: bool, id: str) -> Any:
    return pytest.param(pattern, event, expected, id=id)


MATCH_CASES = [
    # --- exact values -------------------------------------------------------------------
    case({"source": ["shop.cart"]}, {"source": "shop.cart"}, True, "exact-string"),
    case({"source": ["shop.cart"]}, {"source": "shop.order"}, False, "exact-string-miss"),
    case({"source": ["a", "shop.cart"]}, {"source": "shop.cart"}, True, "array-is-or"),
    case({"source": ["shop.cart"]}, {"source": "Shop.Cart"}, False, "case-sensitive"),
    case({"a": ["1"], "b": ["2"]}, {"a": "1", "b": "3"}, False, "keys-are-and"),
    case({"a": ["1"], "b": ["2"]}, {"a": "1", "b": "2", "c": "x"}, True, "extra-fields"),
    case({"source": ["shop.cart"]}, {}, False, "missing-field"),
    case({"n": [5]}, {"n": 5.0}, True, "int-matches-float"),
    case({"n": [5.0]}, {"n": 5}, True, "float-matches-int"),
    case({"n": [3.018e2]}, {"n": 301.8}, True, "exponent-number"),
    case({"n": [5]}, {"n": "5"}, False, "number-not-numeric-string"),
    case({"n": ["5"]}, {"n": 5}, False, "string-not-number"),
    case({"b": [True]}, {"b": True}, True, "true"),
    case({"b": [False]}, {"b": False}, True, "false"),
    case({"b": [True]}, {"b": 1}, False, "true-is-not-1"),
    case({"b": [1]}, {"b": True}, False, "1-is-not-true"),
    case({"b": [0]}, {"b": False}, False, "0-is-not-false"),
    case({"x": [None]}, {"x": None}, True, "null"),
    case({"x": [None]}, {}, False, "null-needs-field"),
    case({"x": [""]}, {"x": None}, False, "empty-string-is-not-null"),
    case({"x": [None]}, {"x": ""}, False, "null-is-not-empty-string"),
    case({"x": [""]}, {"x": ""}, True, "empty-string"),
    # --- arrays in events ---------------------------------------------------------------
    case({"r": ["b"]}, {"r": ["a", "b"]}, True, "event-array-any"),
    case({"r": ["c"]}, {"r": ["a", "b"]}, False, "event-array-none"),
    case({"r": ["a"]}, {"r": []}, False, "event-empty-array"),
    case({"r": ["b"]}, {"r": [["a"], ["b"]]}, True, "nested-event-arrays"),
    case({"r": [2]}, {"r": [1, 2.0]}, True, "event-array-numbers"),
    case({"r": ["b"]}, {"r": ("a", "b")}, True, "event-tuple"),
    # --- nested objects -----------------------------------------------------------------
    case({"detail": {"sku": ["A1"]}}, {"detail": {"sku": "A1"}}, True, "nested"),
    case({"detail": {"sku": ["A1"]}}, {"detail": {"sku": "B2"}}, False, "nested-miss"),
    case({"detail": {"sku": ["A1"]}}, {"detail": {}}, False, "nested-missing-field"),
    case({"detail": {"sku": ["A1"]}}, {}, False, "nested-missing-parent"),
    case({"detail": {"sku": ["A1"]}}, {"detail": "A1"}, False, "nested-vs-scalar"),
    case({"detail": ["x"]}, {"detail": {"x": 1}}, False, "leaf-vs-object"),
    case(
        {"a": {"b": {"c": ["deep"]}, "d": [1]}},
        {"a": {"b": {"c": "deep"}, "d": 1}},
        True,
        "deeply-nested",
    ),
    case(
        {"items": {"sku": ["B"]}},
        {"items": [{"sku": "A"}, {"sku": "B"}]},
        True,
        "array-of-objects-any",
    ),
    case(
        {"items": {"sku": ["C"]}},
        {"items": [{"sku": "A"}, {"sku": "B"}]},
        False,
        "array-of-objects-none",
    ),
    case(
        {"items": {"sku": ["A"], "qty": [2]}},
        {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]},
        False,
        "array-elements-not-combined",
    ),
    case(
        {"items": {"sku": ["B"], "qty": [2]}},
        {"items": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}]},
        True,
        "array-element-all-fields",
    ),
    # --- prefix / suffix / equals-ignore-case --------------------------------------------
    case({"t": [{"prefix": "2017-10-02"}]}, {"t": "2017-10-02T18:43:48Z"}, True, "prefix"),
    case({"t": [{"prefix": "2017-10-02"}]}, {"t": "2017-10-03T00:00:00Z"}, False, "prefix-miss"),
    case({"t": [{"prefix": "1"}]}, {"t": 12}, False, "prefix-not-number"),
    case({"t": [{"prefix": ""}]}, {"t": "anything"}, True, "prefix-empty"),
    case(
        {"s": [{"prefix": {"equals-ignore-case": "EventB"}}]},
        {"s": "eventbridge"},
        True,
        "prefix-ignore-case",
    ),
    case(
        {"s": [{"prefix": {"equals-ignore-case": "EventB"}}]},
        {"s": "lambda"},
        False,
        "prefix-ignore-case-miss",
    ),
    case({"f": [{"suffix": ".png"}]}, {"f": "cat.png"}, True, "suffix"),
    case({"f": [{"suffix": ".png"}]}, {"f": "cat.PNG"}, False, "suffix-case-sensitive"),
    case({"f": [{"suffix": "5"}]}, {"f": 5}, False, "suffix-not-number"),
    case(
        {"f": [{"suffix": {"equals-ignore-case": ".png"}}]},
        {"f": "CAT.PNG"},
        True,
        "suffix-ignore-case",
    ),
    case(
        {"f": [{"suffix": {"equals-ignore-case": ".png"}}]},
        {"f": "cat.gif"},
        False,
        "suffix-ignore-case-miss",
    ),
    case({"n": [{"equals-ignore-case": "alice"}]}, {"n": "ALICE"}, True, "equals-ignore-case"),
    case({"n": [{"equals-ignore-case": "alice"}]}, {"n": "alicia"}, False, "eic-miss"),
    case({"n": [{"equals-ignore-case": "true"}]}, {"n": True}, False, "eic-not-bool"),
    # --- wildcard ---------------------------------------------------------------------
    case({"p": [{"wildcard": "dir/*.png"}]}, {"p": "dir/cat.png"}, True, "wildcard"),
    case({"p": [{"wildcard": "dir/*.png"}]}, {"p": "dir/cat.gif"}, False, "wildcard-miss"),
    case({"p": [{"wildcard": "dir/*.png"}]}, {"p": "dir/.png"}, True, "wildcard-empty-run"),
    case({"p": [{"wildcard": "dir/*.png"}]}, {"p": "dir/a/b.png"}, True, "wildcard-slashes"),
    case({"p": [{"wildcard": "*/lib/*"}]}, {"p": "usr/lib/x"}, True, "wildcard-two-stars"),
    case({"p": [{"wildcard": "a\\*b"}]}, {"p": "a*b"}, True, "wildcard-escaped-star"),
    case({"p": [{"wildcard": "a\\*b"}]}, {"p": "axb"}, False, "wildcard-escaped-not-wild"),
    case({"p": [{"wildcard": "a\\\\b"}]}, {"p": "a\\b"}, True, "wildcard-escaped-backslash"),
    case({"p": [{"wildcard": "a.c"}]}, {"p": "abc"}, False, "wildcard-dot-is-literal"),
    case({"p": [{"wildcard": "*"}]}, {"p": 5}, False, "wildcard-not-number"),
    case({"p": [{"wildcard": "a*"}]}, {"p": "a\nb"}, True, "wildcard-newline"),
    # --- anything-but -------------------------------------------------------------------
    case({"s": [{"anything-but": "init"}]}, {"s": "running"}, True, "anything-but"),
    case({"s": [{"anything-but": "init"}]}, {"s": "init"}, False, "anything-but-excluded"),
    case({"s": [{"anything-but": "init"}]}, {}, False, "anything-but-needs-field"),
    case({"s": [{"anything-but": "init"}]}, {"s": 5}, True, "anything-but-other-type"),
    case({"s": [{"anything-but": "init"}]}, {"s": None}, True, "anything-but-null"),
    case(
        {"s": [{"anything-but": ["stopped", "overloaded"]}]},
        {"s": "overloaded"},
        False,
        "anything-but-list",
    ),
    case(
        {"s": [{"anything-but": ["stopped", "overloaded"]}]},
        {"s": "running"},
        True,
        "anything-but-list-other",
    ),
    case({"x": [{"anything-but": [100, 200]}]}, {"x": 200.0}, False, "anything-but-numbers"),
    case({"x": [{"anything-but": [100, 200]}]}, {"x": 150}, True, "anything-but-numbers-ok"),
    case({"x": [{"anything-but": 123}]}, {"x": "123"}, True, "anything-but-num-vs-string"),
    case({"s": [{"anything-but": "a"}]}, {"s": ["a", "b"]}, True, "anything-but-array-any"),
    case({"s": [{"anything-but": "a"}]}, {"s": ["a", "a"]}, False, "anything-but-array-all"),
    case(
        {"r": [{"anything-but": {"prefix": "us-"}}]},
        {"r": "eu-west-1"},
        True,
        "anything-but-prefix",
    ),
    case(
        {"r": [{"anything-but": {"prefix": "us-"}}]},
        {"r": "us-east-1"},
        False,
        "anything-but-prefix-miss",
    ),
    case(
        {"r": [{"anything-but": {"prefix": ["us-", "eu-"]}}]},
        {"r": "eu-west-1"},
        False,
        "anything-but-prefix-list",
    ),
    case(
        {"f": [{"anything-but": {"suffix": ".png"}}]},
        {"f": "a.gif"},
        True,
        "anything-but-suffix",
    ),
    case(
        {"f": [{"anything-but": {"suffix": [".png", ".gif"]}}]},
        {"f": "a.gif"},
        False,
        "anything-but-suffix-list",
    ),
    case(
        {"s": [{"anything-but": {"equals-ignore-case": "Stopped"}}]},
        {"s": "STOPPED"},
        False,
        "anything-but-ignore-case",
    ),
    case(
        {"s": [{"anything-but": {"equals-ignore-case": ["Stopped", "OverLoaded"]}}]},
        {"s": "running"},
        True,
        "anything-but-ignore-case-list",
    ),
    case(
        {"p": [{"anything-but": {"wildcard": "*/lib/*"}}]},
        {"p": "/usr/lib/x"},
        False,
        "anything-but-wildcard",
    ),
    case(
        {"p": [{"anything-but": {"wildcard": ["*/lib/*", "*.jar"]}}]},
        {"p": "/usr/bin/x"},
        True,
        "anything-but-wildcard-list",
    ),
    # --- numeric ------------------------------------------------------------------------
    case({"q": [{"numeric": [">", 0]}]}, {"q": 2}, True, "numeric-gt"),
    case({"q": [{"numeric": [">", 0]}]}, {"q": 0}, False, "numeric-gt-boundary"),
    case({"q": [{"numeric": [">=", 0]}]}, {"q": 0}, True, "numeric-ge-boundary"),
    case({"q": [{"numeric": ["<", 10]}]}, {"q": -3.5}, True, "numeric-lt"),
    case({"q": [{"numeric": ["<=", 10]}]}, {"q": 10.5}, False, "numeric-le-miss"),
    case({"q": [{"numeric": ["=", 3.018e2]}]}, {"q": 301.8}, True, "numeric-eq"),
    case({"q": [{"numeric": ["=", 5]}]}, {"q": 6}, False, "numeric-eq-miss"),
    case({"q": [{"numeric": [">", 0, "<=", 5]}]}, {"q": 5}, True, "numeric-range-top"),
    case({"q": [{"numeric": [">", 0, "<=", 5]}]}, {"q": 5.01}, False, "numeric-range-above"),
    case({"q": [{"numeric": [">=", 0, "<", 5]}]}, {"q": 0}, True, "numeric-range-bottom"),
    case({"q": [{"numeric": [">=", 0, "<", 5]}]}, {"q": 5}, False, "numeric-range-open-top"),
    case({"q": [{"numeric": [">", 0]}]}, {"q": "2"}, False, "numeric-not-string"),
    case({"q": [{"numeric": [">", 0]}]}, {"q": True}, False, "numeric-not-bool"),
    case({"q": [{"numeric": [">", 0]}]}, {"q": [-1, 3]}, True, "numeric-array-any"),
    case({"q": [{"numeric": [">", 0]}]}, {}, False, "numeric-missing"),
    # --- exists -------------------------------------------------------------------------
    case({"d": {"c": [{"exists": True}]}}, {"d": {"c": 0}}, True, "exists-true"),
    case({"d": {"c": [{"exists": True}]}}, {"d": {}}, False, "exists-true-missing"),
    case({"d": {"c": [{"exists": False}]}}, {"d": {}}, True, "exists-false"),
    case({"d": {"c": [{"exists": False}]}}, {"d": {"c": "x"}}, False, "exists-false-present"),
    case({"c": [{"exists": True}]}, {"c": None}, True, "exists-true-null-is-present"),
    case({"c": [{"exists": False}]}, {"c": None}, False, "exists-false-null-is-present"),
    case({"c": [{"exists": True}]}, {"c": {"c1": 100}}, False, "exists-true-object-not-leaf"),
    case({"c": [{"exists": False}]}, {"c": {"c1": 100}}, True, "exists-false-object-not-leaf"),
    case({"c": [{"exists": True}]}, {"c": []}, False, "exists-true-empty-array"),
    case({"c": [{"exists": False}]}, {"c": []}, True, "exists-false-empty-array"),
    case({"c": [{"exists": True}]}, {"c": ["x"]}, True, "exists-true-array"),
    case({"d": {"c": [{"exists": False}]}}, {}, True, "exists-false-parent-missing"),
    case({"d": {"c": [{"exists": False}]}}, {"d": "x"}, True, "exists-false-parent-scalar"),
    case({"c": ["x", {"exists": False}]}, {}, True, "exists-false-or-value-missing"),
    case({"c": ["x", {"exists": False}]}, {"c": "x"}, True, "exists-false-or-value-x"),
    case({"c": ["x", {"exists": False}]}, {"c": "y"}, False, "exists-false-or-value-y"),
    # --- cidr ---------------------------------------------------------------------------
    case({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.0.255"}, True, "cidr-v4"),
    case({"ip": [{"cidr": "10.0.0.0/24"}]}, {"ip": "10.0.1.0"}, False, "cidr-v4-out"),
    case({"ip": [{"cidr": "10.0.0.7/24"}]}, {"ip": "10.0.0.1"}, True, "cidr-host-bits"),
    case({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db8:1::5"}, True, "cidr-v6"),
    case({"ip": [{"cidr": "2001:db8::/32"}]}, {"ip": "2001:db9::5"}, False, "cidr-v6-out"),
    case({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "::ffff:1"}, False, "cidr-v4-vs-v6"),
    case({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": "not-an-ip"}, False, "cidr-not-ip"),
    case({"ip": [{"cidr": "10.0.0.0/8"}]}, {"ip": 10}, False, "cidr-not-number"),
    case({"ip": ["2001:db8::1"]}, {"ip": "2001:DB8:0::1"}, True, "exact-ip-canonical"),
    # --- $or ----------------------------------------------------------------------------
    case(
        {"$or": [{"a": ["1"]}, {"b": ["2"]}]},
        {"a": "1"},
        True,
        "or-first",
    ),
    case(
        {"$or": [{"a": ["1"]}, {"b": ["2"]}]},
        {"a": "0", "b": "2"},
        True,
        "or-second",
    ),
    case(
        {"$or": [{"a": ["1"]}, {"b": ["2"]}]},
        {"a": "0", "b": "0"},
        False,
        "or-neither",
    ),
    case(
        {"source": ["s"], "$or": [{"a": ["1"]}, {"b": ["2"]}]},
        {"source": "t", "a": "1"},
        False,
        "or-and-other-keys",
    ),
    case(
        {"detail": {"$or": [{"c": [{"numeric": [">", 5]}]}, {"d": [{"prefix": "x"}]}]}},
        {"detail": {"c": 1, "d": "xy"}},
        True,
        "or-nested",
    ),
    case(
        {
            "$or": [
                {"a": ["1"]},
                {"b": ["2"], "$or": [{"c": ["3"]}, {"d": ["4"]}]},
            ]
        },
        {"b": "2", "d": "4"},
        True,
        "or-inside-or",
    ),
    case(
        {
            "$or": [
                {"a": ["1"]},
                {"b": ["2"], "$or": [{"c": ["3"]}, {"d": ["4"]}]},
            ]
        },
        {"b": "2", "d": "5"},
        False,
        "or-inside-or-miss",
    ),
    # --- mixed leaves and the brief's envelope -------------------------------------------
    case({"v": ["x", {"prefix": "y"}, 3]}, {"v": "yes"}, True, "mixed-leaf-prefix"),
    case({"v": ["x", {"prefix": "y"}, 3]}, {"v": 3.0}, True, "mixed-leaf-number"),
    case({"v": ["x", {"prefix": "y"}, 3]}, {"v": "no"}, False, "mixed-leaf-miss"),
    case(
        {
            "source": ["shop.cart"],
            "detail-type": ["ItemAddedToCart"],
            "detail": {"quantity": [{"numeric": [">", 1]}]},
        },
        ENVELOPE,
        True,
        "envelope",
    ),
    case(
        {
            "source": ["shop.cart"],
            "detail-type": ["ItemAddedToCart"],
            "detail": {"quantity": [{"numeric": [">", 2]}]},
        },
        ENVELOPE,
        False,
        "envelope-quantity-too-low",
    ),
    case(
        {
            "time": [{"prefix": "2026-11-26"}],
            "resources": [{"exists": False}],
            "detail": {
                "sku": [{"anything-but": ["B2", "C3"]}],
                "quantity": [{"numeric": [">", 0, "<=", 5]}],
                "cart_id": [{"wildcard": "c-*"}],
            },
        },
        ENVELOPE,
        True,
        "envelope-complex",
    ),
]


@pytest.mark.parametrize(("pattern", "event", "expected"), MATCH_CASES)
def test_compiled_pattern_matches(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    assert compile_pattern(pattern).matches(event) is expected


@pytest.mark.parametrize(("pattern", "event", "expected"), MATCH_CASES)
def test_matches_function_agrees(
    pattern: dict[str, Any], event: dict[str, Any], expected: bool
) -> None:
    assert matches(pattern, event) is expected


def invalid(pattern: Any, message: str, id: str) -> Any:
    """``message`` is a regex that must find the offending path at the start of the error."""
    return pytest.param(pattern, message, id=id)


INVALID_CASES = [
    # --- shape --------------------------------------------------------------------------
    invalid(["source"], r"^\(root\): a pattern must be a JSON object, got list", "not-a-dict"),
    invalid(None, r"^\(root\): a pattern must be a JSON object", "none"),
    invalid({}, r"^\(root\): a pattern must not be empty", "empty-pattern"),
    invalid({"source": "x"}, r"^source: values must be given as an array", "leaf-string"),
    invalid({"detail": {"n": 5}}, r"^detail\.n: values must be given as an array", "leaf-num"),
    invalid({"source": None}, r"^source: values must be given as an array", "leaf-null"),
    invalid({"source": []}, r"^source: empty arrays are not allowed", "empty-array"),
    invalid({"detail": {}}, r"^detail: empty objects are not allowed", "empty-nested"),
    invalid({1: ["x"]}, r"^\(root\): field names must be strings, got 1", "int-key"),
    invalid({"s": [["a"]]}, r"^s: arrays cannot be nested", "nested-array"),
    invalid({"s": [{"a"}]}, r"^s: values must be strings, numbers, .* got set", "set-value"),
    invalid({"s": [math.inf]}, r"^s: numbers must be finite", "infinite-number"),
    # --- operator objects -----------------------------------------------------------------
    invalid({"s": [{"foo": 1}]}, r"^s: unknown operator 'foo'", "unknown-operator"),
    invalid(
        {"s": [{"prefix": "a", "suffix": "b"}]},
        r"^s: an operator object needs exactly one key",
        "two-operators",
    ),
    invalid({"s": [{}]}, r"^s: an operator object needs exactly one key, got \{\}", "empty-op"),
    invalid({"d": {"n": [{"prefix": 1}]}}, r"^d\.n: prefix expects a string, got 1", "prefix-num"),
    invalid(
        {"s": [{"prefix": {"foo": "x"}}]},
        r"^s: prefix expects a string or \{'equals-ignore-case': string\}",
        "prefix-bad-object",
    ),
    invalid(
        {"s": [{"prefix": {"equals-ignore-case": 3}}]},
        r"^s: prefix/equals-ignore-case expects a string, got 3",
        "prefix-ignore-case-num",
    ),
    invalid({"s": [{"suffix": ["a"]}]}, r"^s: suffix expects a string", "suffix-list"),
    invalid(
        {"s": [{"equals-ignore-case": ["a"]}]},
        r"^s: equals-ignore-case expects a string",
        "equals-ignore-case-list",
    ),
    # --- wildcard -----------------------------------------------------------------------
    invalid(
        {"p": [{"wildcard": "a**b"}]},
        r"^p: wildcard: consecutive wildcard characters",
        "wildcard-double-star",
    ),
    invalid(
        {"p": [{"wildcard": "a\\b"}]},
        r"^p: wildcard: a backslash may only escape",
        "wildcard-bad-escape",
    ),
    invalid(
        {"p": [{"wildcard": "a\\"}]},
        r"^p: wildcard: a backslash may only escape",
        "wildcard-trailing-backslash",
    ),
    invalid({"p": [{"wildcard": 1}]}, r"^p: wildcard expects a string", "wildcard-num"),
    # --- anything-but ---------------------------------------------------------------------
    invalid({"s": [{"anything-but": None}]}, r"^s: anything-but expects", "anything-but-null"),
    invalid({"s": [{"anything-but": True}]}, r"^s: anything-but expects", "anything-but-bool"),
    invalid({"s": [{"anything-but": []}]}, r"^s: anything-but expects", "anything-but-empty"),
    invalid(
        {"s": [{"anything-but": ["a", 1]}]},
        r"^s: anything-but expects .* only strings or only numbers, got \['a', 1\]",
        "anything-but-mixed",
    ),
    invalid(
        {"s": [{"anything-but": {"numeric": [">", 1]}}]},
        r"^s: anything-but accepts one of equals-ignore-case, prefix, suffix, wildcard",
        "anything-but-numeric",
    ),
    invalid(
        {"s": [{"anything-but": {"prefix": "a", "suffix": "b"}}]},
        r"^s: anything-but accepts one of",
        "anything-but-two-keys",
    ),
    invalid(
        {"s": [{"anything-but": {"prefix": ""}}]},
        r"^s: anything-but/prefix does not allow an empty string",
        "anything-but-empty-prefix",
    ),
    invalid(
        {"s": [{"anything-but": {"suffix": 5}}]},
        r"^s: anything-but/suffix expects a string or a non-empty list of strings",
        "anything-but-suffix-num",
    ),
    invalid(
        {"s": [{"anything-but": {"equals-ignore-case": ["a", 1]}}]},
        r"^s: anything-but/equals-ignore-case expects a string or a non-empty list",
        "anything-but-ignore-case-mixed",
    ),
    invalid(
        {"s": [{"anything-but": {"wildcard": ["ok*", "x**"]}}]},
        r"^s: anything-but/wildcard: consecutive wildcard characters",
        "anything-but-wildcard-double-star",
    ),
    # --- numeric --------------------------------------------------------------------------
    invalid(
        {"detail": {"price": [{"numeric": [">", "x"]}]}},
        re.escape("detail.price: numeric expects operator/value pairs, got ['>', 'x']"),
        "numeric-brief-example",
    ),
    invalid({"q": [{"numeric": ">"}]}, r"^q: numeric expects operator/value pairs", "num-str"),
    invalid({"q": [{"numeric": [">"]}]}, r"^q: numeric expects operator/value pairs", "num-odd"),
    invalid({"q": [{"numeric": []}]}, r"^q: numeric expects operator/value pairs", "num-empty"),
    invalid(
        {"q": [{"numeric": [">", 0, "<", 5, "=", 3]}]},
        r"^q: numeric expects operator/value pairs",
        "numeric-three-pairs",
    ),
    invalid(
        {"q": [{"numeric": [">", True]}]},
        r"^q: numeric expects operator/value pairs",
        "numeric-bool-bound",
    ),
    invalid(
        {"q": [{"numeric": ["!=", 1]}]},
        r"^q: numeric: unknown operator '!='",
        "numeric-unknown-op",
    ),
    invalid(
        {"q": [{"numeric": ["=", 1, "<", 5]}]},
        r"^q: numeric: a range is a lower bound",
        "numeric-eq-in-range",
    ),
    invalid(
        {"q": [{"numeric": ["<", 5, ">", 0]}]},
        r"^q: numeric: a range is a lower bound",
        "numeric-upper-first",
    ),
    invalid(
        {"q": [{"numeric": [">", 0, ">=", 5]}]},
        r"^q: numeric: a range is a lower bound",
        "numeric-two-lower",
    ),
    invalid(
        {"q": [{"numeric": [">", 5, "<", 5]}]},
        r"^q: numeric: empty range, lower bound 5 must be below upper bound 5",
        "numeric-empty-range",
    ),
    invalid(
        {"q": [{"numeric": [">", -math.inf]}]},
        r"^q: numeric: bounds must be finite numbers",
        "numeric-infinite",
    ),
    # --- exists / cidr --------------------------------------------------------------------
    invalid({"e": [{"exists": "true"}]}, r"^e: exists expects true or false", "exists-str"),
    invalid({"e": [{"exists": 1}]}, r"^e: exists expects true or false, got 1", "exists-one"),
    invalid({"ip": [{"cidr": "10.0.0.0"}]}, r"^ip: cidr: '10.0.0.0' is not address/", "no-slash"),
    invalid({"ip": [{"cidr": "10.0.0.0/x"}]}, r"^ip: cidr: .* is not address/", "cidr-bad-bits"),
    invalid({"ip": [{"cidr": "10.0.0.0/33"}]}, r"^ip: cidr: .* not a valid CIDR", "cidr-33"),
    invalid({"ip": [{"cidr": "300.0.0.0/8"}]}, r"^ip: cidr: .* not a valid CIDR", "cidr-300"),
    invalid({"ip": [{"cidr": "2001:db8::/129"}]}, r"^ip: cidr: .* not a valid CIDR", "v6-129"),
    invalid({"ip": [{"cidr": "10.0.0.1/32"}]}, r"^ip: cidr: prefix length must be below 32", "/32"),
    invalid({"ip": [{"cidr": 10}]}, r"^ip: cidr expects a string", "cidr-num"),
    # --- $or ----------------------------------------------------------------------------
    invalid({"$or": {"a": ["1"]}}, r"^\$or: \$or expects an array of at least 2", "or-object"),
    invalid({"$or": [{"a": ["1"]}]}, r"^\$or: \$or expects an array of at least 2", "or-one"),
    invalid({"$or": [{"a": ["1"]}, "b"]}, r"^\$or\[1\]: a pattern must be a JSON object", "or-str"),
    invalid({"$or": [{"a": ["1"]}, {}]}, r"^\$or\[1\]: empty objects are not allowed", "or-empty"),
    invalid(
        {"$or": [{"a": ["1"]}, {"b": "2"}]},
        r"^\$or\[1\]\.b: values must be given as an array",
        "or-branch-leaf",
    ),
    invalid(
        {"detail": {"$or": [{"a": ["1"]}, {"b": [{"numeric": [">"]}]}]}},
        r"^detail\.\$or\[1\]\.b: numeric expects operator/value pairs",
        "or-nested-path",
    ),
    invalid(
        {"$or": [{"numeric": [">", 1]}, {"b": ["2"]}]},
        r"^\$or\[0\]\.numeric: 'numeric' is an operator and cannot be a field name inside \$or",
        "or-operator-as-field",
    ),
    invalid(
        {"a": {"b": {"c": [{"numeric": [">", 1, "<"]}]}}},
        r"^a\.b\.c: numeric expects operator/value pairs",
        "deep-path",
    ),
]


@pytest.mark.parametrize(("pattern", "message"), INVALID_CASES)
def test_invalid_patterns_name_the_offending_part(pattern: Any, message: str) -> None:
    with pytest.raises(InvalidPattern, match=message):
        validate(pattern)
    with pytest.raises(InvalidPattern, match=message):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ({"s": "x"}, r"^s: values must be given as an array"),
        ({"s": [math.nan]}, r"^s: numbers must be finite"),  # NaN is not JSON: no cache key
        ({"s": [{"a"}]}, r"^s: values must be strings"),
    ],
)
def test_matches_function_rejects_invalid_patterns(pattern: Any, message: str) -> None:
    with pytest.raises(InvalidPattern, match=message):
        matches(pattern, {"s": "x"})


def test_invalid_pattern_is_a_value_error() -> None:
    assert issubclass(InvalidPattern, ValueError)


def test_validate_accepts_valid_pattern_and_returns_none() -> None:
    assert validate({"source": ["shop.cart"], "detail": {"q": [{"numeric": [">", 0]}]}}) is None


def test_compiled_pattern_is_reusable_across_events() -> None:
    compiled = compile_pattern({"detail": {"quantity": [{"numeric": [">", 1]}]}})
    assert isinstance(compiled, CompiledPattern)
    results = [compiled.matches({"detail": {"quantity": q}}) for q in (0, 1, 2, 3.5, "9")]
    assert results == [False, False, True, True, False]


def test_compiled_pattern_does_not_see_later_pattern_mutation() -> None:
    pattern = {"source": ["a"]}
    compiled = compile_pattern(pattern)
    pattern["source"].append("b")
    assert compiled.matches({"source": "a"}) and not compiled.matches({"source": "b"})


def test_matches_caches_by_canonical_json() -> None:
    from eventbus import patterns

    patterns._compile_canonical.cache_clear()
    first = {"source": ["x"], "detail": {"a": [1], "b": [2]}}
    reordered = {"detail": {"b": [2], "a": [1]}, "source": ["x"]}
    assert matches(first, {"source": "x", "detail": {"a": 1, "b": 2}})
    assert matches(reordered, {"source": "x", "detail": {"a": 1, "b": 2}})
    assert not matches(reordered, {"source": "y", "detail": {"a": 1, "b": 2}})
    info = patterns._compile_canonical.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_string_and_int_enum_values_match_their_json_value() -> None:
    class State(str, enum.Enum):  # noqa: UP042 - str() of this kind is "State.RUNNING"
        RUNNING = "running"

    class Level(enum.IntEnum):
        HIGH = 3

    compiled = compile_pattern({"s": ["running"], "n": [{"numeric": [">", 2]}]})
    assert compiled.matches({"s": State.RUNNING, "n": Level.HIGH})
    assert not compiled.matches({"s": State.RUNNING, "n": 2})


def test_non_json_event_values_never_match() -> None:
    assert not matches({"s": ["x"]}, {"s": object()})
    assert not matches({"s": [{"anything-but": "x"}]}, {"s": object()})


# --- properties ---------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(min_value=-(10**9), max_value=10**9),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
)


@given(low=numbers, high=numbers, value=numbers)
def test_numeric_range_agrees_with_python_comparison(low: float, high: float, value: float) -> None:
    if low >= high:
        with pytest.raises(InvalidPattern, match=r"^v: numeric: empty range"):
            compile_pattern({"v": [{"numeric": [">=", low, "<", high]}]})
        return
    compiled = compile_pattern({"v": [{"numeric": [">=", low, "<", high]}]})
    assert compiled.matches({"v": value}) is (low <= value < high)


@given(excluded=st.lists(st.text(max_size=4), min_size=1, max_size=4), value=st.text(max_size=4))
def test_anything_but_is_the_complement_of_exact_match(excluded: list[str], value: str) -> None:
    event = {"v": value}
    assert matches({"v": [{"anything-but": excluded}]}, event) is not matches(
        {"v": excluded}, event
    )


@given(text=st.text(alphabet="ab.?+()[]$^", max_size=6), value=st.text(alphabet="ab.", max_size=6))
def test_wildcard_without_star_is_exact_match(text: str, value: str) -> None:
    assert matches({"v": [{"wildcard": text}]}, {"v": value}) is (text == value)
