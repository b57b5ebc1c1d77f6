"""Group fairness of a classifier's decisions: per-group rates, parity figures, four-fifths rule.

For each sensitive feature the holdout is split into groups (missing values form a
``"(missing)"`` group). Per group: selection rate (share predicted favourable), true and false
positive rates and accuracy. Between groups: demographic parity difference and ratio, equalized
odds difference and the four-fifths rule (lowest selection rate / highest >= 0.8).

The counts are taken with numpy (fast on large holdouts); the three summary figures are computed
again with fairlearn.metrics on the same decisions, and a disagreement beyond 1e-9 is reported as
a bug. numpy, pandas and fairlearn are imported inside the functions.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from core.errors import InvalidInput
from core.validation.metrics import plain

MISSING = "(missing)"
FOUR_FIFTHS = 0.8
AGREEMENT = 1e-9



def _missing_count(values: Any) -> int:
    import pandas as pd

    return int(pd.isna(pd.Series(values, dtype=object)).sum())


def _decisions(y_pred: Any, n: int, favourable_label: Any, threshold: float) -> Any:
    """Boolean "predicted favourable" per row, from labels or from scores in [0, 1]."""
    import numpy as np
    import pandas as pd

    array = np.asarray(y_pred)
    if array.ndim != 1 or array.size != n:
        raise InvalidInput(f"The predictions have {array.size} values but y_true has {n}.")
    missing = _missing_count(array)
    if missing:
        raise InvalidInput(f"The predictions contain {missing} missing value(s).",
                           hint="Predict every row of the holdout before assessing fairness.")
    if array.dtype.kind == "f" and not np.all(array == np.round(array)):
        # Scores: a float with a non-integer value cannot be a class label.
        outside = int(np.count_nonzero((array < 0) | (array > 1) | ~np.isfinite(array)))
        if outside:
            raise InvalidInput(
                f"The predictions look like scores (they are not whole numbers) but {outside} "
                "of them fall outside [0, 1].",
                hint="Pass the probability of the favourable label, or the predicted labels.")
        return array >= threshold
    return (pd.Series(array, dtype=object) == favourable_label).to_numpy(dtype=bool)


def _groups(name: str, values: Any, n: int, max_groups: int) -> tuple[Any, list[str]]:
    """Group index per row and the group names (missing values become ``"(missing)"``).

    Values are grouped by their text, so 1 and "1" are one group, as they read the same.
    """
    import numpy as np
    import pandas as pd

    if isinstance(values, pd.Series):
        column = values.reset_index(drop=True)
    else:
        array = np.asarray(values)
        if array.ndim != 1:
            raise InvalidInput(f"Sensitive feature {name!r} must be one column of values; got "
                               f"shape {array.shape}.")
        column = pd.Series(array)
    if len(column) != n:
        raise InvalidInput(f"Sensitive feature {name!r} has {len(column)} values but y_true "
                           f"has {n}.")
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    texts = [str(u) for u in uniques] + [MISSING]  # code -1 (missing) indexes the last entry
    names = sorted(set(texts[:-1] if (codes >= 0).all() else texts))
    position = {text: i for i, text in enumerate(names)}
    index = np.array([position.get(t, -1) for t in texts])[codes]
    if len(names) > max_groups:
        raise InvalidInput(
            f"Sensitive feature {name!r} has {len(names)} distinct values; at most {max_groups} "
            "groups can be compared.",
            hint="Bin it into a few ranges (for example age bands) or use a coarser feature.")
    if len(names) < 2:
        raise InvalidInput(
            f"Sensitive feature {name!r} has a single group ({names[0]!r}) in the holdout; "
            "there is nothing to compare.",
            hint="Choose a feature with at least two groups, or a holdout that covers them.")
    return index, names


def _spread(values: list[float | None], eligible: list[bool]) -> float:
    """Largest minus smallest of the defined values of eligible groups (0 with fewer than two)."""
    defined = [v for v, ok in zip(values, eligible, strict=True) if ok and v is not None]
    return max(defined) - min(defined) if len(defined) >= 2 else 0.0


def _fairlearn_figures(index: Any, true_fav: Any, pred_fav: Any, mask: Any,
                       defined: dict[str, Any]) -> dict[str, float]:
    """The summary figures computed by fairlearn.metrics on the eligible rows.

    One ``MetricFrame`` (selection rate, TPR, FPR) per feature, with the differences and ratio
    taken by fairlearn exactly as ``demographic_parity_difference``/``_ratio`` and
    ``equalized_odds_difference`` take them (those three build one MetricFrame each, about
    0.3 s a feature even on a small table). It runs on the table of distinct (group, actual,
    predicted) rows with their counts as sample weights: the same figures as on the raw rows,
    counted independently of the numpy path (pandas value_counts), fast on any holdout.
    ``defined`` maps "tpr"/"fpr" to a boolean per group index: fairlearn scores an undefined
    rate as 0, so those groups are left out of that rate's spread.
    """
    import numpy as np
    import pandas as pd

    Pandas4Warning = getattr(pd.errors, "Pandas4Warning", FutureWarning)
    cells = pd.DataFrame({"group": index[mask], "actual": true_fav[mask].astype(int),
                          "predicted": pred_fav[mask].astype(int)}).value_counts().reset_index()
    weight = cells["count"].to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=Pandas4Warning)
        import fairlearn.metrics as flm

        rates = {"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate,
                 "fpr": flm.false_positive_rate}
        frame = flm.MetricFrame(
            metrics=rates, y_true=cells["actual"].to_numpy(), y_pred=cells["predicted"].to_numpy(),
            sensitive_features=cells["group"].to_numpy(),
            sample_params={name: {"sample_weight": weight} for name in rates})
        difference = frame.difference(method="between_groups")
        ratio = frame.ratio(method="between_groups")
        by_group = frame.by_group
    spreads = []
    for rate in ("tpr", "fpr"):
        if all(defined[rate][int(g)] for g in by_group.index):
            spreads.append(float(difference[rate]))
        else:
            kept = by_group[rate][[bool(defined[rate][int(g)]) for g in by_group.index]]
            spreads.append(float(kept.max() - kept.min()) if len(kept) >= 2 else 0.0)
    return {"demographic_parity_difference": float(np.asarray(difference["selection_rate"])),
            "demographic_parity_ratio": float(np.asarray(ratio["selection_rate"])),
            "equalized_odds_difference": max(spreads)}


def _feature_report(name: str, index: Any, names: list[str], true_fav: Any, pred_fav: Any,
                    min_group_count: int) -> dict:
    import numpy as np

    k = len(names)
    count = np.bincount(index, minlength=k)
    selected = np.bincount(index, weights=pred_fav, minlength=k)
    positives = np.bincount(index, weights=true_fav, minlength=k)
    tp = np.bincount(index, weights=true_fav & pred_fav, minlength=k)
    fp = np.bincount(index, weights=~true_fav & pred_fav, minlength=k)
    correct = np.bincount(index, weights=true_fav == pred_fav, minlength=k)
    negatives = count - positives

    groups, eligible = [], []
    for g in range(k):
        notes = []
        if count[g] < min_group_count:
            notes.append(f"Only {int(count[g])} rows (fewer than {min_group_count}): listed, but "
                         "left out of the differences and the four-fifths rule.")
        if positives[g] == 0:
            notes.append("No actual favourable outcomes, so the true positive rate is undefined.")
        if negatives[g] == 0:
            notes.append("No actual unfavourable outcomes, so the false positive rate is "
                         "undefined.")
        groups.append({
            "group": names[g], "count": int(count[g]),
            "selection_rate": float(selected[g] / count[g]),
            "tpr": float(tp[g] / positives[g]) if positives[g] else None,
            "fpr": float(fp[g] / negatives[g]) if negatives[g] else None,
            "accuracy": float(correct[g] / count[g]),
            "note": " ".join(notes) or None,
        })
        eligible.append(bool(count[g] >= min_group_count))
    if sum(eligible) < 2:
        big = [names[g] for g in range(k) if eligible[g]]
        raise InvalidInput(
            f"Sensitive feature {name!r}: {len(big)} group(s) have at least {min_group_count} "
            f"rows{' (' + ', '.join(big) + ')' if big else ''}; fairness comparisons need two.",
            hint="Use a larger holdout, merge small groups, or lower the minimum group size.")

    rates = [groups[g]["selection_rate"] for g in range(k)]
    ranked = sorted((g for g in range(k) if eligible[g]), key=lambda g: (-rates[g], names[g]))
    high, low = ranked[0], ranked[-1]
    ratio = rates[low] / rates[high] if rates[high] > 0 else 1.0
    figures = {
        "demographic_parity_difference": rates[high] - rates[low],
        "demographic_parity_ratio": ratio,
        "equalized_odds_difference": max(_spread([x["tpr"] for x in groups], eligible),
                                         _spread([x["fpr"] for x in groups], eligible)),
    }
    checked = _fairlearn_figures(index, true_fav, pred_fav, np.asarray(eligible)[index],
                                 {"tpr": positives > 0, "fpr": negatives > 0})
    for key, ours in figures.items():
        if key == "demographic_parity_ratio" and rates[high] == 0:
            continue  # 0/0: fairlearn gives NaN, the report takes equal (zero) rates as parity
        if not abs(ours - checked[key]) <= AGREEMENT:
            raise RuntimeError(f"Fairness figure {key} for {name!r} disagrees with fairlearn "
                               f"({ours!r} here, {checked[key]!r} there); this is a bug.")

    # Display order: largest group first, the missing-value group last.
    order = sorted(range(k), key=lambda g: (names[g] == MISSING, -count[g], names[g]))
    return {
        "groups": [groups[g] for g in order],
        **{key: float(value) for key, value in figures.items()},
        "four_fifths": {"passed": bool(ratio >= FOUR_FIFTHS), "reference_group": names[high],
                        "lowest_group": names[low], "ratio": float(ratio)},
        "note": _feature_note(names, eligible, positives, negatives, min_group_count,
                              rates[high] == 0),
    }


def _feature_note(names: list[str], eligible: list[bool], positives: Any, negatives: Any,
                  min_group_count: int, none_selected: bool) -> str | None:
    small = [n for n, ok in zip(names, eligible, strict=True) if not ok]
    no_pos = [n for g, n in enumerate(names) if eligible[g] and not positives[g]]
    no_neg = [n for g, n in enumerate(names) if eligible[g] and not negatives[g]]
    parts = []
    if small:
        parts.append(f"{len(small)} group(s) with fewer than {min_group_count} rows "
                     f"({', '.join(small)}) are left out of the differences and the four-fifths "
                     "rule.")
    if no_pos:
        parts.append(f"True positive rate undefined for {', '.join(no_pos)} (no actual "
                     "favourable outcomes); equalized odds uses the other groups' rates.")
    if no_neg:
        parts.append(f"False positive rate undefined for {', '.join(no_neg)} (no actual "
                     "unfavourable outcomes); equalized odds uses the other groups' rates.")
    if none_selected:
        parts.append("No group has a favourable prediction; the parity ratio is taken as 1.")
    return " ".join(parts) or None


def fairness_report(
    y_true: Any,
    y_pred_labels_or_scores: Any,
    sensitive: Mapping[str, Any],
    *,
    favourable_label: Any = 1,
    threshold: float = 0.5,
    max_groups: int = 50,
    min_group_count: int = 30,
) -> dict:
    """Group fairness of the model's decisions for each sensitive feature.

    ``y_pred_labels_or_scores`` holds predicted labels (compared to ``favourable_label``) or,
    when it is a float array with non-whole values, scores in [0, 1] that are the probability
    of the favourable label (favourable when ``>= threshold``). ``sensitive`` maps a feature
    name to its values, aligned with ``y_true``. Groups smaller than ``min_group_count`` are
    listed with a note but left out of the summary figures. Returns the "fairness" evidence dict
    of the charter-evaluation/1 record.

    Raises InvalidInput for no sensitive feature, misaligned lengths, missing labels or
    predictions, scores outside [0, 1], a ``favourable_label`` absent from ``y_true``, a feature
    with one group or more than ``max_groups``, or fewer than two groups large enough to compare.
    Raises RuntimeError if the figures disagree with fairlearn's (a bug). Writes no audit events.
    """
    import numpy as np
    import pandas as pd

    if not sensitive:
        raise InvalidInput("Name at least one sensitive feature to assess fairness.")
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput(f"threshold must be within [0, 1]; got {threshold!r}.")
    if max_groups < 2 or min_group_count < 1:
        raise InvalidInput("max_groups must be at least 2 and min_group_count at least 1.")
    y = pd.Series(np.asarray(y_true, dtype=object).ravel(), dtype=object)
    n = len(y)
    if n == 0:
        raise InvalidInput("Nothing to assess: y_true has no rows.")
    if y.isna().any():
        raise InvalidInput(f"y_true contains {int(y.isna().sum())} missing label(s).",
                           hint="Drop or fill those rows before assessing fairness.")
    true_fav = (y == favourable_label).to_numpy(dtype=bool)
    if not true_fav.any():
        shown = ", ".join(repr(plain(v)) for v in sorted(set(y), key=repr)[:10])
        raise InvalidInput(f"favourable_label {favourable_label!r} does not occur in y_true "
                           f"(labels: {shown}).",
                           hint="Check the label's type and spelling: 1 and '1' differ.")
    pred_fav = _decisions(y_pred_labels_or_scores, n, favourable_label, threshold)

    features = {}
    for name, values in sensitive.items():
        index, names = _groups(str(name), values, n, max_groups)
        features[str(name)] = _feature_report(str(name), index, names, true_fav, pred_fav,
                                              min_group_count)
    return {
        "favourable_label": plain(favourable_label),
        "threshold": float(threshold),
        "features": features,
        "worst": {
            "demographic_parity_difference":
                max(f["demographic_parity_difference"] for f in features.values()),
            "demographic_parity_ratio":
                min(f["demographic_parity_ratio"] for f in features.values()),
            "equalized_odds_difference":
                max(f["equalized_odds_difference"] for f in features.values()),
            "four_fifths_passed": all(f["four_fifths"]["passed"] for f in features.values()),
        },
    }
