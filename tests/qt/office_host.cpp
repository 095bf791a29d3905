// A Qt host of a repc-generated Office source holding a Tray sub-object (office.rep): the
// Rust replica tests of tests/qt_sub_objects.rs run against it. `swapTray` points the
// office at a new tray of 100 sheets. Prints "listening on URL" once it serves.
//
//   office_host URL
#include <QCoreApplication>
#include <QRemoteObjectHost>
#include <cstdio>
#include <memory>
#include "rep_office_source.h"

class TrayService : public TraySimpleSource
{
public:
    explicit TrayService(int sheets) { setSheets(sheets); }
    int refill(int n) override
    {
        setSheets(sheets() + n);
        return sheets();
    }
};

class OfficeService : public OfficeSimpleSource
{
public:
    OfficeService() : m_tray(new TrayService(5))
    {
        setName(QStringLiteral("HQ"));
        setFloors(3);
        setTray(m_tray.get());
    }
    void swapTray() override
    {
        m_spare.reset(new TrayService(100));
        setTray(m_spare.get());
    }

private:
    std::unique_ptr<TrayService> m_tray;
    std::unique_ptr<TrayService> m_spare;
};

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 2) {
        std::printf("usage: office_host URL\n");
        return 1;
    }
    QRemoteObjectHost host(QUrl(QString::fromUtf8(argv[1])));
    OfficeService office;
    if (!host.enableRemoting(&office)) {
        std::printf("enableRemoting failed\n");
        return 1;
    }
    std::printf("listening on %s\n", qPrintable(host.hostUrl().toString()));
    std::fflush(stdout);
    return app.exec();
}
