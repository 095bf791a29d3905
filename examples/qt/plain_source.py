"""A PyQt6 host serving a plain QObject (no .rep file, no signature): Rust dynamic replicas
and `aro` use it from the class definition Qt sends.

    /usr/bin/python3 plain_source.py URL

Prints "listening on URL" once it serves `Plain`: properties count (int, notify), label
(QString, writable), signal pinged(int, QString), slots add(int, int) -> int and reset().
"""
import os
import sys

from PyQt6.QtCore import QCoreApplication, QObject, QUrl, pyqtProperty, pyqtSignal, pyqtSlot
from PyQt6.QtRemoteObjects import QRemoteObjectHost


class Plain(QObject):
    countChanged = pyqtSignal(int)
    labelChanged = pyqtSignal(str)
    pinged = pyqtSignal(int, str)

    def __init__(self):
        super().__init__()
        self._count = 5
        self._label = "plain"

    @pyqtProperty(int, notify=countChanged)
    def count(self):
        return self._count

    @count.setter
    def count(self, value):
        if value != self._count:
            self._count = value
            self.countChanged.emit(value)

    @pyqtProperty(str, notify=labelChanged)
    def label(self):
        return self._label

    @label.setter
    def label(self, value):
        if value != self._label:
            self._label = value
            self.labelChanged.emit(value)

    @pyqtSlot(int, int, result=int)
    def add(self, a, b):
        return a + b

    @pyqtSlot()
    def reset(self):
        self.count = 0
        self.pinged.emit(99, "reset")


def main():
    app = QCoreApplication(sys.argv)
    host = QRemoteObjectHost(QUrl(sys.argv[1]))
    plain = Plain()
    if not host.enableRemoting(plain, "Plain"):
        print("enableRemoting failed", flush=True)
        sys.exit(1)
    print(f"listening on {host.hostUrl().toString()}", flush=True)
    code = app.exec()
    os._exit(code)


if __name__ == "__main__":
    main()
