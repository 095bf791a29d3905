"""A PyQt6 model replica (QAbstractItemModelReplica, from a dynamic replica of Playlist) of
a Rust ListModel: prints what it sees, one line each, while it runs the steps below; exits 0
when all ran, 2 on a timeout. Between steps it waits on the model by polling it from Qt's
event loop (PyQt shows the replica's model as a plain QAbstractItemModel).

    /usr/bin/python3 model_replica.py URL
"""
import sys

from PyQt6 import sip
from PyQt6.QtCore import QCoreApplication, QItemSelectionModel, Qt, QTimer, QUrl
from PyQt6.QtRemoteObjects import QAbstractItemModelReplica, QRemoteObjectNode

from pysteps import say, when

app = QCoreApplication(sys.argv)
node = QRemoteObjectNode()
node.connectToNode(QUrl(sys.argv[1]))
playlist = node.acquireDynamic("Playlist")
DISPLAY = Qt.ItemDataRole.DisplayRole


def text(model, row, role=DISPLAY):
    return model.data(model.index(row, 0), role)


def initialized():
    model = playlist.property("tracks")
    names = model.roleNames()
    plays = next(role for role, name in names.items() if bytes(name) == b"plays")
    roles = " ".join(sorted(bytes(n).decode() for n in names.values()))
    when(lambda: model.rowCount() == 3, lambda: rows(model, plays, roles))


def rows(model, plays, roles):
    say(f"rows {model.rowCount()} roles {roles}")
    # Each role is fetched when it is first read.
    when(
        lambda: all(text(model, r) is not None and text(model, r, plays) is not None
                    for r in range(3)),
        lambda: fetched(model, plays),
    )


def fetched(model, plays):
    shown = ",".join(f"{text(model, r)}:{text(model, r, plays)}" for r in range(3))
    say(f"data {shown}")
    model.setData(model.index(1, 0), "B", DISPLAY)
    when(lambda: text(model, 1) == "B", lambda: edited(model))


def edited(model):
    say(f"edited {text(model, 1)}")
    say("ready")
    when(lambda: model.rowCount() == 4, lambda: text(model, 3))
    when(lambda: model.rowCount() == 4 and text(model, 3) is not None, lambda: inserted(model))


def inserted(model):
    say(f"inserted {text(model, 3)}")
    # Select the third row through the replica's selection model, as a view would; the
    # source's selection changes, and the test appends a row once it saw it.
    flags = QItemSelectionModel.SelectionFlag
    replica = sip.cast(model, QAbstractItemModelReplica)
    replica.selectionModel().setCurrentIndex(
        model.index(2, 0), flags.ClearAndSelect | flags.Current
    )
    say("selected")
    when(lambda: model.rowCount() == 5, lambda: app.exit(0))


playlist.initialized.connect(initialized)
QTimer.singleShot(10000, lambda: app.exit(2))
code = app.exec()
# Replicas go before their node: left to the interpreter's teardown, PyQt 6 may destroy the
# node first and the replica's destructor then crashes (seen against a Qt host as well).
del playlist
del node
sys.exit(code)
