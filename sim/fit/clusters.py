"""Users grouped into personas by their activity (scikit-learn).

Each user is described by five features, standardized (zero mean, unit variance) before clustering:
- `log_sessions_per_device_day`: log(1 + sessions per device and day seen), from the user's first session
  on (per device: the number of devices is a distribution within a persona, not a persona of its own);
- `log_duration`: log of the median session duration in minutes (plus one);
- `weekend_share`: the share of session starts on Saturdays and Sundays;
- `office_share`: the share of starts on weekdays between 08:00 and 18:00;
- `active_day_share`: the share of days with a session start, from the user's first session on.
The two shares are shrunk toward everyone's share by `PRIOR_STARTS` pseudo-starts, so that users with a
handful of sessions do not form clusters of their own by chance. Users without a session get the other
users' medians (and 0 sessions per day).

`--personas K`: k-means with K clusters (10 starts). `--personas auto`: K from 2 to `max_k` with the
highest silhouette of its k-means clusters, or 1 when no K reaches `MIN_SILHOUETTE` (0.5: Kaufman and
Rousseeuw call 0.26-0.50 a weak structure that could be artificial, and k-means splits one homogeneous
group of users at silhouettes of 0.25-0.35). The BIC of a Gaussian mixture
(diagonal covariances) is reported beside it, not used: with a discrete feature such as the number of
devices, a mixture gains likelihood by putting each count in a component of its own, so BIC keeps
adding personas that differ only by their device count. The clusters are numbered from the most
active persona down.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.core.durations import DAY, HOUR, WEEK
from sim.fit.activity import Sessions

#: The silhouette below which `auto` keeps one persona.
MIN_SILHOUETTE = 0.5
#: Pseudo-starts that pull a user's weekend and office shares toward everyone's.
PRIOR_STARTS = 5.0
FEATURES = ("log_sessions_per_device_day", "log_duration", "weekend_share", "office_share",
            "active_day_share")


def user_features(sessions: Sessions) -> pd.DataFrame:
    """The activity features of every user (one row per user, in `sessions.names` order)."""
    n = sessions.n_users
    user = sessions.user
    count = np.bincount(user, minlength=n).astype(float)
    first = np.full(n, sessions.span)
    np.minimum.at(first, user, sessions.start)
    days_seen = np.maximum((sessions.span - first) / DAY, 1.0)
    position = np.mod(sessions.start, WEEK)
    weekday = (position // DAY).astype(int)
    hour = (position - weekday * DAY) // HOUR
    weekend = np.bincount(user, weights=(weekday >= 5).astype(float), minlength=n)
    office = np.bincount(user, weights=((weekday < 5) & (hour >= 8) & (hour < 18)).astype(float), minlength=n)
    day_index = np.floor(sessions.start / DAY).astype(np.int64)
    distinct_days = pd.Series(day_index).groupby(user).nunique().reindex(range(n), fill_value=0).to_numpy()
    durations = pd.Series(sessions.durations).groupby(user).median().reindex(range(n)).to_numpy()
    total = max(count.sum(), 1.0)
    weekend_all, office_all = weekend.sum() / total, office.sum() / total
    devices = np.maximum(sessions.devices, 1).astype(float)
    frame = pd.DataFrame(
        {
            "user": sessions.names,
            "sessions": count.astype(int),
            "devices": sessions.devices.astype(int),
            "sessions_per_day": count / days_seen,
            "log_sessions_per_device_day": np.log1p(count / days_seen / devices),
            "log_duration": np.log1p(durations / 60.0),
            "weekend_share": (weekend + PRIOR_STARTS * weekend_all) / (count + PRIOR_STARTS),
            "office_share": (office + PRIOR_STARTS * office_all) / (count + PRIOR_STARTS),
            "active_day_share": np.where(count > 0, distinct_days / days_seen, 0.0),
        }
    )
    for name in FEATURES:
        median = frame[name].median()
        frame[name] = frame[name].fillna(0.0 if np.isnan(median) else median)
    return frame


@dataclass
class Clustering:
    """Users' persona labels (0 = the most active persona) and how K was chosen."""

    labels: np.ndarray
    k: int
    method: str
    #: per K tried: BIC of the Gaussian mixture, silhouette of k-means (None for K = 1)
    scores: list[dict] = field(default_factory=list)
    #: cluster centres in the original feature units, one row per persona
    centres: pd.DataFrame | None = None


def cluster_users(features: pd.DataFrame, personas: int | str, seed: int, max_k: int = 6) -> Clustering:
    """Group the users: `personas` is K, or "auto" to choose K by BIC (from 1 to `max_k`)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.mixture import GaussianMixture
    from sklearn.preprocessing import StandardScaler

    x = features[list(FEATURES)].to_numpy(dtype=float)
    n = len(x)
    spread = x.std(axis=0)
    z = StandardScaler().fit_transform(x[:, spread > 0]) if np.any(spread > 0) else np.zeros((n, 1))
    scores: list[dict] = []
    if personas == "auto":
        for k in range(1, min(max_k, n) + 1):
            mixture = GaussianMixture(k, covariance_type="diag", n_init=3, random_state=seed, reg_covar=1e-4)
            mixture.fit(z)
            entry = {"k": k, "bic": float(mixture.bic(z)), "silhouette": None}
            if k >= 2:
                labels = KMeans(k, n_init=10, random_state=seed).fit_predict(z)
                if len(set(labels)) > 1:
                    entry["silhouette"] = float(silhouette_score(z, labels, random_state=seed,
                                                                 sample_size=min(n, 5000)))
            scores.append(entry)
        scored = [e for e in scores if e["silhouette"] is not None]
        best = max(scored, key=lambda e: e["silhouette"], default=None)
        k = best["k"] if best is not None and best["silhouette"] >= MIN_SILHOUETTE else 1
        method = f"auto: the highest silhouette of k-means, K = {k}"
    else:
        k = int(personas)
        if not 1 <= k <= n:
            raise ValueError(f"--personas must be between 1 and the number of users ({n}), got {k}")
        method = f"k-means with K = {k}"
    labels = KMeans(k, n_init=10, random_state=seed).fit_predict(z) if k > 1 else np.zeros(n, dtype=int)
    # number the personas from the most active down
    activity = pd.Series(features["sessions_per_day"].to_numpy()).groupby(labels).mean()
    rank = {old: new for new, old in enumerate(activity.sort_values(ascending=False).index)}
    labels = np.array([rank[label] for label in labels], dtype=int)
    centres = features[list(FEATURES)].groupby(labels).mean()
    return Clustering(labels=labels, k=k, method=method, scores=scores, centres=centres)
