"""The offline snapshot embeds widget states only when their cross product is small: Panel's
``embed=True`` renders every combination (216 000 for a month x region x rate dashboard, hours of
work), so larger dashboards are saved with their first view."""
import panel as pn

from satco2.runs import publish


def test_embedded_states_counts_the_cross_product():
    view = pn.Column(
        pn.widgets.Select(options=list(range(12))),
        pn.widgets.RadioButtonGroup(options=["W14", "W92", "N00", "H06"]),
        pn.widgets.Checkbox(),
        pn.widgets.FloatSlider(start=0, end=1),
        pn.pane.Markdown("text"),
    )
    assert publish.embedded_states(view) == 12 * 4 * 2 * 3


def test_large_dashboards_are_not_embedded():
    small = pn.Row(pn.widgets.DiscreteSlider(options=list(range(24))))
    large = pn.Row(pn.widgets.DiscreteSlider(options=list(range(180))), pn.widgets.Select(options=list(range(12))))
    assert publish.embedded_states(small) <= publish.MAX_EMBEDDED_STATES
    assert publish.embedded_states(large) > publish.MAX_EMBEDDED_STATES
