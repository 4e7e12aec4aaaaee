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
    lime_bar(attr, row=0)        LIME's surrogate weights for one row, with its local fidelity
    text_html(attr) / text(attr) a text's words coloured by their weights (HTML, or a figure)
    text_comparison({name: attr})  one text's words under several methods, a band per method (figure)
    text_comparison_html({name: attr})  the same as an HTML table, a row per method
    image_overlay(attr)          an image beside its top superpixels (LIME) or its attribution heat map
    rule_card(rule)              an anchor rule as a card: IF ... THEN ..., precision, coverage, examples
    comparison_grid({name: attr})  images side by side: the input, then one heat map per method (or class)
    attention_heads(maps)        one layer's attention heads of one text, a T x T heat map each
    rollout(maps)                one text's attention rollout matrix
"""

from .bar import bar
from .beeswarm import beeswarm
from .dependence_plots import ale, heatmap, pdp
from .force import force
from .interactions import h_statistic_bars, surrogate_tree
from .scatter import dependence, scatter
from .waterfall import waterfall
from .lime import lime_bar
from .text import text, text_comparison, text_comparison_html, text_html
from .image import image_overlay
from .image_grid import comparison_grid
from .rule import rule_card
from .attention import attention_heads, rollout

__all__ = ["waterfall", "bar", "beeswarm", "force", "scatter", "dependence", "pdp", "ale", "heatmap",
           "h_statistic_bars", "surrogate_tree"]
__all__ += ["lime_bar", "text_html", "text", "image_overlay", "rule_card", "comparison_grid"]
__all__ += ["attention_heads", "rollout"]
__all__ += ["text_comparison", "text_comparison_html"]
