// A repc-generated replica of the Rust Demo source (tests/qt/demo.rep): prints what it sees, one line each,
// while it runs the steps below; exits 0 when all ran, 2 on a timeout, 3 on a wrong value.
// With `reconnect`, it only prints its state changes until it was Valid twice (a host
// restarted under it), then exits 0; with `heartbeat`, the same with heartbeats on, after a
// second of them.
//
//   demo_replica URL [reconnect|heartbeat]      (URL `registry=tcp://…`: find Demo through a registry)
#include <QCoreApplication>
#include <QRemoteObjectNode>
#include <QElapsedTimer>
#include <QTimer>
#include <functional>
#include <cstdio>
#include "steps.h"
#include "rep_demo_replica.h"

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 2) {
        say("usage: demo_replica URL");
        return 1;
    }
    QRemoteObjectNode node;
    const QString url = QString::fromUtf8(argv[1]);
    if (url.startsWith(QStringLiteral("registry=")))
        node.setRegistryUrl(QUrl(url.mid(9)));
    else
        node.connectToNode(QUrl(url));
    QScopedPointer<DemoReplica> demo(node.acquire<DemoReplica>());
    QObject::connect(demo.data(), &QRemoteObjectReplica::stateChanged,
                     [](QRemoteObjectReplica::State state, QRemoteObjectReplica::State) {
                         say(QStringLiteral("state %1").arg(int(state)));
                     });
    QList<QPair<int, QString>> pings;
    QObject::connect(demo.data(), &DemoReplica::pinged,
                     [&pings](int n, QString msg) { pings.append({n, msg}); });
    if (argc > 2 && QByteArray(argv[2]) == "heartbeat") {
        // Heartbeats every 100 ms: once Valid, a second of them must pass without a Suspect;
        // then it prints its states until it was Valid again after a Suspect (its host
        // stopped and went on), and exits 0.
        node.setHeartbeatInterval(100);
        int suspects = 0;
        bool steady = false;
        QObject::connect(demo.data(), &QRemoteObjectReplica::stateChanged,
                         [&](QRemoteObjectReplica::State state, QRemoteObjectReplica::State) {
                             if (state == QRemoteObjectReplica::Suspect)
                                 ++suspects;
                             if (state == QRemoteObjectReplica::Valid && steady && suspects > 0)
                                 QCoreApplication::exit(0);
                         });
        if (!demo->waitForSource(10000))
            return 2;
        QTimer::singleShot(1000, [&] {
            say(QStringLiteral("steady suspects=%1").arg(suspects));
            steady = true;
            suspects = 0;
        });
        QTimer::singleShot(30000, [] { QCoreApplication::exit(2); });
        return app.exec();
    }
    if (argc > 2 && QByteArray(argv[2]) == "reconnect") {
        int valid = 0;
        QObject::connect(demo.data(), &QRemoteObjectReplica::stateChanged,
                         [&valid](QRemoteObjectReplica::State state, QRemoteObjectReplica::State) {
                             if (state == QRemoteObjectReplica::Valid && ++valid == 2)
                                 QCoreApplication::exit(0);
                         });
        QTimer::singleShot(30000, [] { QCoreApplication::exit(2); });
        return app.exec();
    }
    if (!demo->waitForSource(10000)) {
        say(QStringLiteral("timeout: state %1").arg(int(demo->state())));
        return 2;
    }
    say(QStringLiteral("init count=%1 label=%2 ratio=%3 flag=%4 mode=%5 pod=%6,%7")
            .arg(demo->count())
            .arg(demo->label())
            .arg(demo->ratio())
            .arg(demo->flag())
            .arg(int(demo->mode()))
            .arg(demo->pod().x())
            .arg(demo->pod().name()));

    QRemoteObjectPendingReply<int> sum = demo->add(2, 3);
    if (!sum.waitForFinished(10000))
        return 2;
    say(QStringLiteral("add %1").arg(sum.returnValue()));
    QRemoteObjectPendingReply<QString> echo = demo->echo(QStringLiteral("yo"));
    if (!echo.waitForFinished(10000))
        return 2;
    say(QStringLiteral("echo %1").arg(echo.returnValue()));

    demo->pushCount(42);
    if (!waitFor([&] { return demo->count() == 42; }))
        return 2;
    say(QStringLiteral("count %1").arg(demo->count()));
    demo->pushMode(DemoReplica::Auto);
    if (!waitFor([&] { return demo->mode() == DemoReplica::Auto; }))
        return 2;
    say(QStringLiteral("mode %1").arg(int(demo->mode())));
    demo->pushPod(MyPod(9, QStringLiteral("nine")));
    if (!waitFor([&] { return demo->pod().x() == 9; }))
        return 2;
    say(QStringLiteral("pod %1,%2").arg(demo->pod().x()).arg(demo->pod().name()));
    demo->setLabel(QStringLiteral("hi"));
    if (!waitFor([&] { return demo->label() == QStringLiteral("hi"); }))
        return 2;
    say(QStringLiteral("label %1").arg(demo->label()));
    demo->reset();
    if (!waitFor([&] { return !pings.isEmpty(); }))
        return 2;
    say(QStringLiteral("pinged %1 %2 count=%3 ratio=%4")
            .arg(pings.first().first)
            .arg(pings.first().second)
            .arg(demo->count())
            .arg(demo->ratio()));
    say(QStringLiteral("done"));
    return 0;
}
