// A repc-generated replica of the Rust Playlist source (tests/qt/playlist.rep) whose tracks
// are a MODEL: prints what its QAbstractItemModelReplica shows, one line each, while it
// runs the steps below; exits 0 when all ran, 2 on a timeout.
//
//   playlist_replica URL
#include <QCoreApplication>
#include <QRemoteObjectNode>
#include <QAbstractItemModelReplica>
#include "steps.h"
#include "rep_playlist_replica.h"

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 2) {
        say("usage: playlist_replica URL");
        return 1;
    }
    QRemoteObjectNode node;
    node.connectToNode(QUrl(QString::fromUtf8(argv[1])));
    QScopedPointer<PlaylistReplica> playlist(node.acquire<PlaylistReplica>());
    if (!playlist->waitForSource(10000)) {
        say(QStringLiteral("timeout: state %1").arg(int(playlist->state())));
        return 2;
    }
    QAbstractItemModelReplica *tracks = playlist->tracks();
    if (!waitFor([&] { return tracks && tracks->rowCount() == 3; }))
        return 2;
    auto display = [&](int row) { return tracks->data(tracks->index(row, 0)); };
    if (!waitFor([&] { return display(0).isValid() && display(1).isValid() && display(2).isValid(); }))
        return 2;
    say(QStringLiteral("title %1 rows %2,%3,%4")
            .arg(playlist->title())
            .arg(display(0).toString())
            .arg(display(1).toString())
            .arg(display(2).toString()));
    tracks->setData(tracks->index(1, 0), QStringLiteral("B"), Qt::DisplayRole);
    if (!waitFor([&] { return display(1).toString() == QStringLiteral("B"); }))
        return 2;
    say(QStringLiteral("edited %1").arg(display(1).toString()));
    say(QStringLiteral("done"));
    return 0;
}
