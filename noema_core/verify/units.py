"""Simple units after a number (`10 cm`, `2.5\\text{ kg}`, `30^\\circ`, `\\$5`).

math-verify's normalisation drops unit words, so `10 cm` would equal `10 m`. Here a unit is
recognised only after a plain number; two answers with units of the same dimension are
compared after conversion, different dimensions never match, and a number with no unit is
compared by value alone. Words we do not know (`5 apples`) are labels: dropped, not converted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sympy

R = sympy.Rational


@dataclass(frozen=True)
class Unit:
    name: str
    dimension: str | None  # None for a label word we do not know
    factor: sympy.Expr  # value in the dimension's base unit per one of this unit


def _table() -> dict[str, Unit]:
    groups: list[tuple[str, sympy.Expr, tuple[str, ...]]] = [
        ("length", R(1), ("m", "meter", "meters", "metre", "metres")),
        ("length", R(1, 100), ("cm", "centimeter", "centimeters", "centimetre", "centimetres")),
        ("length", R(1, 1000), ("mm", "millimeter", "millimeters", "millimetre", "millimetres")),
        ("length", R(1000), ("km", "kilometer", "kilometers", "kilometre", "kilometres")),
        ("length", R(127, 5000), ("in", "inch", "inches")),
        ("length", R(381, 1250), ("ft", "foot", "feet")),
        ("length", R(1143, 1250), ("yd", "yard", "yards")),
        ("length", R(201168, 125), ("mi", "mile", "miles")),
        ("mass", R(1), ("g", "gram", "grams")),
        ("mass", R(1000), ("kg", "kilogram", "kilograms")),
        ("mass", R(1, 1000), ("mg", "milligram", "milligrams")),
        ("mass", R(45359237, 100000), ("lb", "lbs", "pound", "pounds")),
        ("mass", R(45359237, 1600000), ("oz", "ounce", "ounces")),
        ("time", R(1), ("s", "sec", "secs", "second", "seconds")),
        ("time", R(60), ("min", "mins", "minute", "minutes")),
        ("time", R(3600), ("h", "hr", "hrs", "hour", "hours")),
        ("time", R(86400), ("day", "days")),
        ("time", R(604800), ("week", "weeks")),
        ("volume", R(1), ("l", "L", "liter", "liters", "litre", "litres")),
        ("volume", R(1, 1000), ("ml", "mL", "milliliter", "milliliters", "cm^3", "cm³", "cc")),
        ("volume", R(1000), ("m^3", "m³")),
        ("area", R(1), ("m^2", "m²")),
        ("area", R(1, 10000), ("cm^2", "cm²")),
        ("area", R(10**6), ("km^2", "km²")),
        ("speed", R(1), ("m/s",)),
        ("speed", R(5, 18), ("km/h", "kph", "kmh")),
        ("speed", R(1397, 3125), ("mph",)),
        ("angle", sympy.pi / 180, ("°", "deg", "degree", "degrees", "\\circ")),
        ("angle", R(1), ("rad", "rads", "radian", "radians")),
        ("money", R(1), ("$", "dollar", "dollars", "usd", "USD")),
        ("money", R(1, 100), ("cent", "cents")),
    ]
    return {name: Unit(name, dim, factor) for dim, factor, names in groups for name in names}


UNITS = _table()
# Unit names that are also common variable letters are only units after a space.
_NEEDS_SPACE = {name for name in UNITS if len(name) == 1 and name.isalpha()}
_NOT_LABELS = {"pi", "and", "or", "sin", "cos", "tan", "log", "ln", "exp", "sqrt", "i", "e",
               "dx", "dy", "dt"}

_NUMBER_TEXT = r"[-+−]?\s*(?:\d[\d,]*\.?\d*|\.\d+)(?:\s*/\s*\d+)?"
_TRAILING = re.compile(
    r"^(?P<value>.*?)(?P<space>\s*)(?:\\(?:text|mathrm|textrm|mbox)\s*\{\s*(?P<braced>[^{}]+?)\s*\}"
    r"(?P<power>\^\s*\{?\s*[23]\s*\}?)?"
    r"|\^\s*\{?\s*\\circ\s*\}?|(?P<bare>°|[A-Za-z]+(?:/[A-Za-z]+|\^?[23²³])?))\s*$"
)
_CURRENCY = re.compile(r"^\s*(?:\\\$|\$|USD\s*)\s*(?P<value>.+)$")


def split_unit(text: str) -> tuple[str, Unit | None]:
    """`(number_text, unit)` when `text` is a plain number followed by a unit or label word."""
    currency = _CURRENCY.match(text)
    if currency and re.fullmatch(_NUMBER_TEXT, currency.group("value").strip()):
        return currency.group("value").strip(), UNITS["$"]
    m = _TRAILING.match(text)
    if not m or not re.fullmatch(_NUMBER_TEXT, m.group("value").strip()):
        return text, None
    word = (m.group("braced") or m.group("bare") or "\\circ").strip()
    word = word.replace(" ", "") + re.sub(r"[\s{}]", "", m.group("power") or "")
    unit = UNITS.get(word) or UNITS.get(word.lower())
    if unit is None:
        base = re.sub(r"\^?[23²³]$", "", word)  # ft^3: a label all the same
        if not base.isalpha() or len(base) < (2 if base != word else 3) \
                or base.lower() in _NOT_LABELS:
            return text, None
        unit = Unit(word.lower(), None, R(1))
    elif word in _NEEDS_SPACE and not m.group("space") and not m.group("braced"):
        return text, None
    return m.group("value").strip(), unit
