// A Qt host of a repc-generated Demo source (the same API as the Rust one): the Rust replica
// tests of tests/qt_interop.rs run against it. Prints "listening on URL" once it serves.
//
//   demo_host URL [REGISTRY_URL]
#include <QCoreApplication>
#include <QRemoteObjectHost>
#include <cstdio>
#include "rep_demo_source.h"

class DemoService : public DemoSimpleSource
{
public:
    DemoService() { setPod(MyPod(7, QStringLiteral("p"))); }
    int add(int a, int b) override { return a + b; }
    void reset() override
    {
        setCount(0);
        setRatio(ratio() + 0.5);
        emit pinged(99, QStringLiteral("reset"));
    }
    QString echo(QString s) override { return s + QStringLiteral("!"); }
};

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 2) {
        std::printf("usage: demo_host URL\n");
        return 1;
    }
    QUrl registry = argc > 2 ? QUrl(QString::fromUtf8(argv[2])) : QUrl();
    QRemoteObjectHost host(QUrl(QString::fromUtf8(argv[1])), registry);
    DemoService demo;
    if (!host.enableRemoting(&demo)) {
        std::printf("enableRemoting failed\n");
        return 1;
    }
    std::printf("listening on %s\n", qPrintable(host.hostUrl().toString()));
    std::fflush(stdout);
    return app.exec();
}
