"""Quick start: why did the credit model approve or deny? Run: python examples/quickstart.py

The data is synthetic with a known truth (`data.formula`), so you can see whether
the explanation finds what really drives the outcome.
"""

from sklearn.ensemble import HistGradientBoostingClassifier

import whybox
from whybox import plots
from whybox.datasets import credit

data = credit(n=2000, seed=0)
X_train, y_train, X_test = data.X.iloc[:1500], data.y[:1500], data.X.iloc[1500:1700]
model = HistGradientBoostingClassifier(categorical_features="from_dtype", max_depth=3).fit(X_train, y_train)

# Shapley values of the approval log-odds; 50 training rows stand for "feature unknown"
attr = whybox.explain(model, X_test, background=X_train.sample(50, random_state=0), output="log_odds")

print("global drivers (mean |value|):")
print(attr.mean_abs().sorted().to_frame().round(3).to_string(index=False))
print("truth, strongest first:", ", ".join(data.drivers))

row = attr[0]  # one applicant: base value + contributions = the model's log-odds
print(f"\napplicant 0: log-odds {float(row.output):+.2f} = base {float(row.base_values):+.2f} + contributions")
print(row.to_frame().T.rename(columns={0: "contribution"}).round(3))

plots.waterfall(row).savefig("waterfall.png", dpi=110, bbox_inches="tight")
plots.beeswarm(attr).savefig("beeswarm.png", dpi=110, bbox_inches="tight")
print("\nwrote waterfall.png and beeswarm.png")
