"""Pictures of a training run that a chemist looks at rather than reads: learning curves,
predicted-vs-measured parity plots (regression) and ROC / precision-recall curves
(classification), written as PNG files; and after a virtual screen, the score histogram and a
grid of the top hits (``molgraph.plots.screen``).

matplotlib (and sklearn, for the curves) are imported inside the functions: importing this
package costs nothing, so ``molgraph.training.job`` and the CLI stay light. Figures are drawn on
a bare :class:`matplotlib.figure.Figure` with the Agg canvas, never through pyplot: nothing is
shown, nothing is registered globally, and each figure is freed once saved.
"""

from molgraph.plots.figures import DPI, learning_curves, parity_plot, roc_pr_curves
from molgraph.plots.run import prediction_plots, write_run_plots
from molgraph.plots.screen import score_histogram, top_hits_grid

__all__ = ["DPI", "learning_curves", "parity_plot", "prediction_plots", "roc_pr_curves",
           "score_histogram", "top_hits_grid", "write_run_plots"]
