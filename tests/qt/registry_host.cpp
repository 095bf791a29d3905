// Qt's own registry host (QRemoteObjectRegistryHost), for Rust hosts registering with it
// and Rust nodes finding sources in it. Prints "listening on URL".
//
//   registry_host URL
#include <QCoreApplication>
#include <QRemoteObjectRegistryHost>
#include <cstdio>

// hostUrl() (with the port really bound) is protected on a registry host.
struct RegistryHost : QRemoteObjectRegistryHost
{
    using QRemoteObjectRegistryHost::QRemoteObjectRegistryHost;
    QUrl boundUrl() const { return hostUrl(); }
};

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 2)
        return 1;
    RegistryHost registry(QUrl(QString::fromUtf8(argv[1])));
    std::printf("listening on %s\n", qPrintable(registry.boundUrl().toString()));
    std::fflush(stdout);
    return app.exec();
}
