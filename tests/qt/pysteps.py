"""What the PyQt6 test programs share: printing a step, and waiting on a model from Qt's
event loop (PyQt shows a replica's model as a plain QAbstractItemModel, with no signal to
wait on that tells all the steps apart)."""
from PyQt6.QtCore import QTimer


def say(line):
    print(line, flush=True)


def when(done, then):
    """Runs `then` once `done()` holds, polling every 20 ms."""
    if done():
        then()
    else:
        QTimer.singleShot(20, lambda: when(done, then))
