"""A PyQt6 dynamic replica (QRemoteObjectDynamicReplica) of any source, driven by a script.

    /usr/bin/python3 dynamic_replica.py URL NAME [STEPS_JSON]

Prints one JSON object per line: the replica's state changes, its initial properties, every
signal it sees (notify signals included) and each step's result. STEPS_JSON is a list of
steps, run in order once the replica is initialized:
    ["call", slot, arg...]      call a slot (PyQt6 cannot read a return value)
    ["push", prop, value]       call push<Prop>(value) (READPUSH)
    ["write", prop, value]      write a READWRITE property
    ["wait", signal, arg...]    wait for a signal (by name), with these arguments if given
    ["print", text]             print {"print": text}
Exits 0 when every step ran, 2 on a timeout.
"""
import json
import os
import sys

from PyQt6.QtCore import QCoreApplication, QMetaMethod, QMetaObject, QObject, Qt, QTimer, QUrl, Q_ARG
from PyQt6.QtRemoteObjects import QRemoteObjectNode

TIMEOUT_MS = 10_000
PLAIN = {"int", "uint", "qlonglong", "qulonglong", "double", "float", "bool", "QString",
         "QStringList", "QVariantList", "QVariantMap", "QByteArray", "short", "ushort"}


def emit(obj):
    print(json.dumps(obj), flush=True)


def plain(value):
    """A QVariant's Python value as JSON can hold it."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return repr(value)


class Driver(QObject):
    def __init__(self, url, name, steps):
        super().__init__()
        self.node = QRemoteObjectNode()
        self.node.connectToNode(QUrl(url))
        self.replica = self.node.acquireDynamic(name)
        self.steps = list(steps)
        self.waiting_for = None
        self.seen = []
        self.started = False
        self.replica.initialized.connect(self.on_initialized)
        self.replica.stateChanged.connect(self.on_state)
        QTimer.singleShot(TIMEOUT_MS, self.on_timeout)

    def on_timeout(self):
        emit({"timeout": self.waiting_for})
        QCoreApplication.exit(2)

    def on_state(self, new, old):
        state = int(new.value if hasattr(new, "value") else new)
        emit({"state": state})
        # Calls go out once the replica is Valid (2); Qt drops them before.
        if state == 2 and not self.started:
            self.started = True
            QTimer.singleShot(0, self.next_step)

    def on_initialized(self):
        meta = self.replica.metaObject()
        props = {}
        for i in range(meta.propertyOffset(), meta.propertyCount()):
            prop = meta.property(i)
            try:
                props[prop.name()] = plain(self.replica.property(prop.name()))
            except TypeError:
                # PyQt6 cannot hand over a dynamic replica's enum or gadget values.
                props[prop.name()] = {"type": prop.typeName()}
        emit({"init": props})
        for i in range(meta.methodOffset(), meta.methodCount()):
            method = meta.method(i)
            types = [bytes(t).decode() for t in method.parameterTypes()]
            # PyQt6 aborts on a signal whose arguments it cannot convert (an enum or gadget
            # of a dynamic replica): only those of plain types are watched.
            if method.methodType() == QMetaMethod.MethodType.Signal and all(t in PLAIN for t in types):
                self.connect_signal(bytes(method.name()).decode())

    def connect_signal(self, name):
        signal = getattr(self.replica, name, None)
        if signal is None or not hasattr(signal, "connect"):
            return
        def on_signal(*args, n=name):
            self.on_signal(n, args)
        try:
            signal.connect(on_signal)
        except TypeError:
            pass

    def on_signal(self, name, args):
        if name in ("initialized", "stateChanged", "notified", "destroyed", "objectNameChanged"):
            return
        args = [plain(a) for a in args]
        emit({"signal": name, "args": args})
        self.seen.append([name] + args)
        if self.waiting_for is not None and self.matches(self.waiting_for, [name] + args):
            self.waiting_for = None
            self.next_step()

    @staticmethod
    def matches(wanted, seen):
        return seen[0] == wanted[0] and (len(wanted) == 1 or seen[1:] == wanted[1:])

    def invoke(self, method_name, args):
        meta = self.replica.metaObject()
        for i in range(meta.methodOffset(), meta.methodCount()):
            method = meta.method(i)
            if bytes(method.name()).decode() != method_name:
                continue
            params = [bytes(t).decode() for t in method.parameterTypes()]
            qargs = [Q_ARG(t if t not in ("int", "double", "bool", "QString") else
                           {"int": int, "double": float, "bool": bool, "QString": str}[t], a)
                     for t, a in zip(params, args)]
            # PyQt6 does not wrap QRemoteObjectPendingCall, so a slot's return value cannot be
            # read here (the C++ replica test reads them); the call itself still goes out.
            QMetaObject.invokeMethod(self.replica, method_name, Qt.ConnectionType.DirectConnection, *qargs)
            return None
        raise KeyError(method_name)

    def next_step(self):
        while self.steps:
            step = self.steps.pop(0)
            kind = step[0]
            if kind == "call":
                self.invoke(step[1], step[2:])
                emit({"called": step[1]})
            elif kind == "push":
                prop = step[1]
                self.invoke("push" + prop[0].upper() + prop[1:], [step[2]])
                emit({"pushed": prop})
            elif kind == "write":
                ok = self.replica.setProperty(step[1], step[2])
                emit({"wrote": step[1], "ok": ok})
            elif kind == "wait":
                if any(self.matches(step[1:], seen) for seen in self.seen):
                    continue
                self.waiting_for = step[1:]
                return
            elif kind == "print":
                emit({"print": step[1]})
        emit({"done": True})
        QCoreApplication.exit(0)


def main():
    app = QCoreApplication(sys.argv)
    url, name = sys.argv[1], sys.argv[2]
    steps = json.loads(sys.argv[3]) if len(sys.argv) > 3 else []
    driver = Driver(url, name, steps)
    code = app.exec()
    sys.stdout.flush()
    # Tearing PyQt6's node and dynamic replica down at interpreter exit sometimes crashes
    # (a PyQt6 6.4 quirk): leave without it.
    os._exit(code)


if __name__ == "__main__":
    main()
