"""Pictures of results. Each function takes a result and returns a matplotlib Figure.

Nothing here calls `show()` or changes the matplotlib backend; save a figure
with `fig.savefig("out.png")`, or let a notebook display it.

    waterfall(attr[0])           one prediction built up from E[f(X)] to f(x)
    force(attr[0])               the same as a single-axis tug of war
    bar(attr) / bar(attr[0])     global mean |attribution|, or one row's signed values
    beeswarm(attr)               every value as a dot, coloured by the feature's value
    scatter(attr[:, "income"])   dependence of one feature's attribution on its value
    pdp(dep) / ale(dep)          partial dependence with ICE curves; accumulated local effects with a rug
    heatmap(dep)                 a two-feature partial dependence surface
    h_statistic_bars(inter)      Friedman's H for the strongest pairs
    surrogate_tree(surrogate)    a TreeSurrogate's rules as text
"""

from .bar import bar
from .beeswarm import beeswarm
from .dependence_plots import ale, heatmap, pdp
from .force import force
from .interactions import h_statistic_bars, surrogate_tree
from .scatter import dependence, scatter
from .waterfall import waterfall

__all__ = ["waterfall", "bar", "beeswarm", "force", "scatter", "dependence", "pdp", "ale", "heatmap",
           "h_statistic_bars", "surrogate_tree"]
