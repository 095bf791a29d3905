"""A PyQt6 dynamic replica of the Rust Office source (tests/qt/office.rep) with its Tray
sub-object, which it knows from the class definitions the host sends: prints what it sees,
one line each; exits 0 when all ran, 2 on a timeout.

    /usr/bin/python3 dynamic_office.py URL
"""
import sys

from PyQt6.QtCore import Q_ARG, QCoreApplication, QMetaObject, QTimer, QUrl
from PyQt6.QtRemoteObjects import QRemoteObjectNode

app = QCoreApplication(sys.argv)
node = QRemoteObjectNode()
node.connectToNode(QUrl(sys.argv[1]))
office = node.acquireDynamic("Office")


def say(line):
    print(line, flush=True)


def tray_initialized():
    tray = office.property("tray")
    say(f"tray {tray.metaObject().className()} sheets={tray.property('sheets')}")
    # PyQt wraps a sub-object as a plain QObject: its members are reached by name.
    QMetaObject.invokeMethod(tray, "refill", Q_ARG(int, 4))

    def poll():
        if tray.property("sheets") == 9:
            say("sheets 9")
            app.exit(0)
        else:
            QTimer.singleShot(20, poll)

    poll()


def office_initialized():
    mo = office.metaObject()
    props = [mo.property(i).name() for i in range(mo.propertyOffset(), mo.propertyCount())]
    say(f"office {' '.join(props)} floors={office.property('floors')}")
    tray = office.property("tray")
    if tray.property("sheets") is not None:
        tray_initialized()
    else:
        tray.initialized.connect(tray_initialized)


office.initialized.connect(office_initialized)
QTimer.singleShot(10000, lambda: app.exit(2))
code = app.exec()
# Replicas go before their node: left to the interpreter's teardown, PyQt 6 may destroy the
# node first and the replica's destructor then crashes (seen against a Qt host as well).
del office
del node
sys.exit(code)
