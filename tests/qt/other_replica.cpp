// A replica of tests/qt/other.rep's Demo: prints the state it settles in (Valid 2, or
// SignatureMismatch 4, as Qt decides from the signatures) and exits.
//
//   other_replica URL
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QRemoteObjectNode>
#include <cstdio>
#include "rep_other_replica.h"

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 2)
        return 1;
    QRemoteObjectNode node;
    node.connectToNode(QUrl(QString::fromUtf8(argv[1])));
    QScopedPointer<DemoReplica> demo(node.acquire<DemoReplica>());
    QElapsedTimer timer;
    timer.start();
    while (demo->state() != QRemoteObjectReplica::Valid
           && demo->state() != QRemoteObjectReplica::SignatureMismatch) {
        if (timer.elapsed() > 10000) {
            std::printf("timeout %d\n", int(demo->state()));
            return 2;
        }
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    }
    std::printf("state %d\n", int(demo->state()));
    return 0;
}
