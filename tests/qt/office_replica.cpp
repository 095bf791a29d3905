// A repc-generated replica of the Rust Office source (tests/qt/office.rep) with its Tray
// sub-object: prints what it sees, one line each, while it runs the steps below; exits 0
// when all ran, 2 on a timeout.
//
//   office_replica URL
#include <QCoreApplication>
#include <QRemoteObjectNode>
#include <QElapsedTimer>
#include <functional>
#include <cstdio>
#include "steps.h"
#include "rep_office_replica.h"

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 2) {
        say("usage: office_replica URL");
        return 1;
    }
    QRemoteObjectNode node;
    node.connectToNode(QUrl(QString::fromUtf8(argv[1])));
    QScopedPointer<OfficeReplica> office(node.acquire<OfficeReplica>());
    if (!office->waitForSource(10000)) {
        say(QStringLiteral("timeout: state %1").arg(int(office->state())));
        return 2;
    }
    if (!waitFor([&] { return office->tray() && office->tray()->isInitialized(); }))
        return 2;
    TrayReplica *tray = office->tray();
    say(QStringLiteral("init name=%1 floors=%2 sheets=%3")
            .arg(office->name())
            .arg(office->floors())
            .arg(tray->sheets()));
    int ranOut = -1;
    QObject::connect(tray, &TrayReplica::ranOut, [&ranOut](int after) { ranOut = after; });

    QRemoteObjectPendingReply<int> refilled = tray->refill(4);
    if (!refilled.waitForFinished(10000))
        return 2;
    if (!waitFor([&] { return tray->sheets() == 9 && ranOut >= 0; }))
        return 2;
    say(QStringLiteral("refill %1 sheets=%2 ranOut=%3")
            .arg(refilled.returnValue())
            .arg(tray->sheets())
            .arg(ranOut));
    tray->setLabel(QStringLiteral("A4"));
    if (!waitFor([&] { return tray->label() == QStringLiteral("A4"); }))
        return 2;
    say(QStringLiteral("label %1").arg(tray->label()));

    bool swapped = false;
    QObject::connect(office.data(), &OfficeReplica::trayChanged, [&swapped] { swapped = true; });
    office->swapTray();
    if (!waitFor([&] {
            return swapped && office->tray() && office->tray()->isInitialized()
                && office->tray()->sheets() == 100;
        }))
        return 2;
    say(QStringLiteral("swapped sheets=%1 label=%2")
            .arg(office->tray()->sheets())
            .arg(office->tray()->label()));
    say(QStringLiteral("done"));
    return 0;
}
