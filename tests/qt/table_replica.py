"""A PyQt6 model replica (QAbstractItemModelReplica, from a dynamic replica of Sheet) of a
Rust TableModel: reads it as a QTableView would — the column count, every cell's display
role, the column headers — edits a cell, and prints what it sees, one line each; exits 0
when all ran, 2 on a timeout.

    /usr/bin/python3 table_replica.py URL
"""
import sys

from PyQt6.QtCore import QCoreApplication, Qt, QTimer, QUrl
from PyQt6.QtRemoteObjects import QRemoteObjectNode

from pysteps import say, when

app = QCoreApplication(sys.argv)
node = QRemoteObjectNode()
node.connectToNode(QUrl(sys.argv[1]))
sheet = node.acquireDynamic("Sheet")
DISPLAY = Qt.ItemDataRole.DisplayRole
EDIT = Qt.ItemDataRole.EditRole
HORIZONTAL = Qt.Orientation.Horizontal


def cell(model, row, column):
    return model.data(model.index(row, column), DISPLAY)


def cells(model):
    return [[cell(model, r, c) for c in range(model.columnCount())] for r in range(model.rowCount())]


def initialized():
    model = sheet.property("cells")
    when(lambda: model.rowCount() == 2 and model.columnCount() == 3, lambda: sized(model))


def sized(model):
    say(f"size {model.rowCount()}x{model.columnCount()}")
    when(
        lambda: all(v is not None for row in cells(model) for v in row)
        and all(model.headerData(c, HORIZONTAL, DISPLAY) for c in range(3)),
        lambda: shown(model),
    )


def shown(model):
    headers = ",".join(model.headerData(c, HORIZONTAL, DISPLAY) for c in range(3))
    say(f"headers {headers}")
    say("cells " + " | ".join(",".join(str(v) for v in row) for row in cells(model)))
    model.setData(model.index(1, 2), 42, EDIT)
    when(lambda: cell(model, 1, 2) == 42, lambda: edited(model))


def edited(model):
    say(f"edited {cell(model, 1, 0)},{cell(model, 1, 1)},{cell(model, 1, 2)}")
    app.exit(0)


sheet.initialized.connect(initialized)
QTimer.singleShot(10000, lambda: app.exit(2))
code = app.exec()
# Replicas go before their node (see model_replica.py).
del sheet
del node
sys.exit(code)
