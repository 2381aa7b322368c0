"""The drawing of the session's moves, read into its table."""

from meshes_bridge.core.transitions import DROPPED, StateError, next_state, read_drawing
from tests.core.helpers import raises


def test_read_drawing_takes_each_cell_by_its_column():
    drawing = """
                   booting  minting  mounted  authed   refresh  expired  error
start              minting  -
ready                                authed            .
"""
    table = read_drawing(drawing)
    assert table["booting"] == {"start": "minting"}
    assert table["minting"] == {"start": DROPPED}
    assert table["mounted"] == {"ready": "authenticated"}
    assert table["authenticated"] == {}
    assert table["refreshing"] == {"ready": "refreshing"}  # "." stays
    assert table["error"] == {}
    assert next_state(table, "booting", "start") == "minting"
    raises(StateError, next_state, table, "authenticated", "ready")


def test_read_drawing_refuses_unknown_inputs_and_cells():
    header = "\n                   booting  minting\n"
    raises(ValueError, read_drawing, header + "begin              minting\n")
    raises(KeyError, read_drawing, header + "start              mintnig\n")
