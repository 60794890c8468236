"""Attribute values: typed, normalised to catalog vocabulary, checked against ranges."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import numpy as np
import pandas as pd

from layers import Attribute, AttrType, LayerSpec
from loaders.geometry import Reasons
from loaders.mapping import VALUE_SYNONYMS

TRUE = {"true", "t", "yes", "y", "1", "是", "on", "共享"}
FALSE = {"false", "f", "no", "n", "0", "否", "off", "独享"}


def _text(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(raw):  # 12.0 read from a numeric column means "12"
        raw = raw.map(
            lambda v: str(int(v)) if float(v).is_integer() else str(v), na_action="ignore"
        )
    text = raw.astype("string").str.strip()
    return text.mask(text == "").astype(object).where(text.notna() & (text != ""), None)


def _present(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
        return raw.notna()
    return _text(raw).notna()


def coerce(raw: pd.Series, attr: Attribute, local_tz: str) -> tuple[pd.Series, pd.Series]:
    """Typed values and, per row, a message where a present value could not be typed."""
    t = attr.type
    if t is AttrType.text:
        values = _text(raw)
        return values, pd.Series(None, index=raw.index, dtype=object)
    present = _present(raw)
    if t in (AttrType.integer, AttrType.real):
        num = pd.to_numeric(raw, errors="coerce").astype("float64")
        bad = present & (num.isna() | ~np.isfinite(num.fillna(0)))
        if t is AttrType.integer:
            bad |= present & num.notna() & (num % 1 != 0)
        kind = "an integer" if t is AttrType.integer else "a finite number"
        values = num.where(~bad & present)
        if t is AttrType.integer:
            values = values.round().astype("Int64")
        return values, _messages(bad, raw, f"{attr.name}: {{}} is not {kind}")
    if t is AttrType.boolean:

        def one(v):
            if isinstance(v, bool | np.bool_):
                return bool(v)
            s = str(v).strip().lower()
            return True if s in TRUE else False if s in FALSE else None

        values = raw.where(present).map(one, na_action="ignore").astype(object)
        bad = present & values.isna()
        return values, _messages(bad, raw, f"{attr.name}: {{}} is not yes/no")
    # Dates and timestamps; a bare year means 1 January of it.
    as_text = raw.where(present).map(
        lambda v: f"{int(v)}-01-01" if isinstance(v, int | float) and float(v).is_integer() else v,
        na_action="ignore",
    )
    if t is AttrType.date:
        parsed = pd.to_datetime(as_text, errors="coerce", format="mixed")
        values = parsed.dt.date.astype(object).where(parsed.notna(), None)
    else:
        parsed = pd.to_datetime(as_text, errors="coerce", format="mixed", utc=False)
        if getattr(parsed.dt, "tz", None) is None:
            parsed = parsed.dt.tz_localize(local_tz, ambiguous="NaT", nonexistent="NaT")
        values = parsed.dt.tz_convert("UTC")
    bad = present & parsed.isna()
    what = "a date" if t is AttrType.date else "a date and time"
    return values, _messages(bad, raw, f"{attr.name}: {{}} is not {what}")


def _messages(bad: pd.Series, raw: pd.Series, template: str) -> pd.Series:
    out = pd.Series(None, index=raw.index, dtype=object)
    if bad.any():  # the usual case has none, and the masked assignment is the slow part
        out[bad] = raw[bad].map(lambda v: template.format(repr(v)[:60]))
    return out


SEPARATORS = re.compile(r"[\s_\-\u2010-\u2015]+")  # spaces, underscores, hyphens and dashes


def normalise_choice(text: str) -> str:
    """The form choices are matched in: 'Ductile Iron', 'ductile-iron', 'ＤＵＣＴＩＬＥ_ＩＲＯＮ' →
    'ductile_iron' (NFKC folds full-width forms, casefold folds case)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return SEPARATORS.sub("_", folded).strip("_")


@cache
def _vocabulary(attr: Attribute) -> dict[str, str]:
    words = {normalise_choice(k): v for k, v in VALUE_SYNONYMS.get(attr.name, {}).items()}
    return words | {normalise_choice(c): c for c in attr.choices or ()}


def choice_of(text: str, attr: Attribute) -> str | None:
    """The catalog value a source's word means (a choice or a known synonym), else None."""
    return _vocabulary(attr).get(normalise_choice(text))


def match_choices(values: pd.Series, attr: Attribute) -> tuple[pd.Series, pd.Series]:
    """Catalog spelling per value; for the rest, a message naming the value and the choices."""
    meaning = {v: choice_of(str(v), attr) for v in values.dropna().unique()}
    mapped = values.map(meaning, na_action="ignore").astype(object)
    bad = values.notna() & mapped.isna()
    allowed = ", ".join(attr.choices or ())
    msg = _messages(bad, values, f"{attr.name}: {{}} is not one of {allowed}")
    return mapped.where(~bad & values.notna(), None), msg


def check_range(values: pd.Series, attr: Attribute) -> pd.Series:
    num = values.astype("float64")
    msg = pd.Series(None, index=values.index, dtype=object)
    if attr.minimum is not None:
        low = ((num <= attr.minimum) if attr.exclusive_minimum else (num < attr.minimum)).fillna(
            False
        )
        op = "must be above" if attr.exclusive_minimum else "is below"
        if low.any():
            msg[low] = num[low].map(lambda v: f"{attr.name}: {v:g} {op} {attr.minimum:g}")
    if attr.maximum is not None:
        high = (num > attr.maximum).fillna(False)
        if high.any():
            msg[high] = num[high].map(lambda v: f"{attr.name}: {v:g} is above {attr.maximum:g}")
    return msg


def conform(mapped: pd.DataFrame, spec: LayerSpec, reasons: Reasons, local_tz: str) -> pd.DataFrame:
    """Typed catalog columns; every problem is added to `reasons` per row."""
    out = pd.DataFrame(index=mapped.index)
    for attr in spec.attributes:
        if attr.name not in mapped.columns:
            out[attr.name] = pd.Series(None, index=mapped.index, dtype=object)
            continue
        values, msg = coerce(mapped[attr.name], attr, local_tz)
        reasons.add(msg.notna(), msg.fillna(""))
        if attr.choices:
            values, msg = match_choices(values, attr)
            reasons.add(msg.notna(), msg.fillna(""))
        if attr.minimum is not None or attr.maximum is not None:
            msg = check_range(values, attr)
            reasons.add(msg.notna(), msg.fillna(""))
        out[attr.name] = values
    for attr in spec.attributes:
        if attr.required:
            typed_badly = reasons.text.str.contains(f"{attr.name}:", regex=False)
            reasons.add(out[attr.name].isna() & ~typed_badly, f"{attr.name} is required")
    return out
