// Qt Remote Objects' model replica (QAbstractItemModelReplica) through the workloads of
// benches/models.rs: a model of N rows acquired (to the row count) and its first 100 rows;
// the model scrolled through in 1000-row windows; 100 000 single-row appends fanned out to
// 8 replicas; RSS beside the model's size. One process, host and replicas on loopback TCP.
#include <QtCore/QAbstractListModel>
#include <QtCore/QCoreApplication>
#include <QtCore/QElapsedTimer>
#include <QtCore/QEventLoop>
#include <QtCore/QFile>
#include <QtCore/QUrl>
#include <QtRemoteObjects/QAbstractItemModelReplica>
#include <QtRemoteObjects/QRemoteObjectHost>
#include <QtRemoteObjects/QRemoteObjectNode>

#include <cstdio>
#include <functional>
#include <memory>
#include <vector>

static long rssKiB()
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &l : f.readAll().split('\n'))
        if (l.startsWith("VmRSS:"))
            return l.mid(6).trimmed().split(' ').first().toLong();
    return -1;
}

// Runs the event loop until `done` holds (or 60 s pass: then the figure is marked).
static bool until(const std::function<bool()> &done)
{
    QElapsedTimer t;
    t.start();
    while (!done()) {
        if (t.elapsed() > 60000)
            return false;
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 10);
    }
    return true;
}

enum Role { TitleRole = Qt::UserRole + 1, PlaysRole };

// The same rows as ours: a title and a play count.
class Playlist : public QAbstractListModel
{
public:
    struct Track {
        QString title;
        int plays;
    };
    std::vector<Track> rows;

    int rowCount(const QModelIndex &parent = {}) const override
    {
        return parent.isValid() ? 0 : int(rows.size());
    }
    QVariant data(const QModelIndex &index, int role) const override
    {
        if (!index.isValid() || size_t(index.row()) >= rows.size())
            return {};
        const Track &t = rows[size_t(index.row())];
        if (role == TitleRole || role == Qt::DisplayRole)
            return t.title;
        if (role == PlaysRole)
            return t.plays;
        return {};
    }
    QHash<int, QByteArray> roleNames() const override
    {
        return {{TitleRole, "title"}, {PlaysRole, "plays"}};
    }
    void append(Track t)
    {
        const int at = int(rows.size());
        beginInsertRows({}, at, at);
        rows.push_back(std::move(t));
        endInsertRows();
    }
};

static Playlist::Track track(int n)
{
    return {QStringLiteral("track number %1").arg(n), n};
}

static const QVector<int> roles{TitleRole, PlaysRole};

// Whether the replica holds rows [first, end) (asking for those it does not).
static bool holds(QAbstractItemModelReplica *m, int first, int end)
{
    bool all = true;
    for (int i = first; i < end; ++i) {
        const QModelIndex index = m->index(i, 0);
        if (!m->hasData(index, TitleRole)) {
            m->data(index, TitleRole); // queues the fetch
            all = false;
        }
    }
    return all;
}

static void acquireAndScroll(const QUrl &url, int rows)
{
    QRemoteObjectNode node;
    node.connectToNode(url);
    QElapsedTimer t;
    t.start();
    std::unique_ptr<QAbstractItemModelReplica> m(node.acquireModel(QStringLiteral("playlist"),
                                                                  QtRemoteObjects::FetchRootSize,
                                                                  roles));
    bool ok = until([&] { return m->isInitialized() && m->rowCount() == rows; });
    const double toCount = double(t.nsecsElapsed()) / 1e6;
    t.restart();
    ok = until([&] { return holds(m.get(), 0, 100); }) && ok;
    const double toWindow = double(t.nsecsElapsed()) / 1e6;
    printf("FIGURE qt model acquire %d rows: row count in %.2f ms, first 100 rows in %.2f ms%s\n",
           rows, toCount, toWindow, ok ? "" : " (TIMED OUT)");

    const long before = rssKiB();
    t.restart();
    for (int at = 0; at < rows && ok; at += 1000) {
        const int end = std::min(rows, at + 1000);
        ok = until([&] { return holds(m.get(), at, end); });
    }
    const double secs = double(t.nsecsElapsed()) / 1e9;
    printf("FIGURE qt model scroll %d rows in 1000-row windows: %.0f rows/s (%.2f s); RSS +%ld KiB "
           "while scrolling%s\n",
           rows, double(rows) / secs, secs, rssKiB() - before, ok ? "" : " (TIMED OUT)");
    fflush(stdout);
}

static void fanOut(int appends, int replicas)
{
    Playlist model;
    QRemoteObjectHost host(QUrl(QStringLiteral("tcp://127.0.0.1:0")));
    const QUrl url = host.hostUrl();
    host.enableRemoting(&model, QStringLiteral("playlist"), roles);
    std::vector<std::unique_ptr<QRemoteObjectNode>> nodes;
    std::vector<std::unique_ptr<QAbstractItemModelReplica>> models;
    for (int i = 0; i < replicas; ++i) {
        nodes.emplace_back(new QRemoteObjectNode);
        nodes.back()->connectToNode(url);
        models.emplace_back(nodes.back()->acquireModel(QStringLiteral("playlist"),
                                                       QtRemoteObjects::FetchRootSize, roles));
    }
    until([&] {
        for (auto &m : models)
            if (!m->isInitialized())
                return false;
        return true;
    });
    QElapsedTimer t;
    t.start();
    for (int n = 0; n < appends; ++n) {
        model.append(track(n));
        if (n % 1024 == 0)
            QCoreApplication::processEvents();
    }
    const bool ok = until([&] {
        for (auto &m : models)
            if (m->rowCount() < appends)
                return false;
        return true;
    });
    const double secs = double(t.nsecsElapsed()) / 1e9;
    printf("FIGURE qt model fan-out %d single-row appends to %d replicas: %.0f row-inserts/s per "
           "replica (%.2f s)%s\n",
           appends, replicas, double(appends) / secs, secs, ok ? "" : " (TIMED OUT)");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const int rows = argc > 1 ? atoi(argv[1]) : 1000000;
    const long baseline = rssKiB();
    {
        Playlist model;
        model.rows.reserve(size_t(rows));
        for (int n = 0; n < rows; ++n)
            model.rows.push_back(track(n));
        QRemoteObjectHost host(QUrl(QStringLiteral("tcp://127.0.0.1:0")));
        host.enableRemoting(&model, QStringLiteral("playlist"), roles);
        printf("FIGURE qt model source of %d rows: process RSS +%ld KiB\n", rows,
               rssKiB() - baseline);
        acquireAndScroll(host.hostUrl(), rows);
    }
    {
        const int small = std::max(rows / 100, 1000);
        Playlist model;
        for (int n = 0; n < small; ++n)
            model.rows.push_back(track(n));
        QRemoteObjectHost host(QUrl(QStringLiteral("tcp://127.0.0.1:0")));
        host.enableRemoting(&model, QStringLiteral("playlist"), roles);
        acquireAndScroll(host.hostUrl(), small);
    }
    fanOut(100000, 8);
    return 0;
}
