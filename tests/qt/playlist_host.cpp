// A Qt host of a repc-generated Playlist source (playlist.rep) whose tracks are a
// QStandardItemModel with the roles display and plays: tracks a, b, c played 1, 2, 3 times;
// `append` adds a track played 0 times. Prints "listening on URL" once it serves.
//
//   playlist_host URL
#include <QCoreApplication>
#include <QRemoteObjectHost>
#include <QStandardItemModel>
#include <cstdio>
#include "rep_playlist_source.h"

static const int Plays = Qt::UserRole + 1;

class PlaylistService : public PlaylistSimpleSource
{
public:
    PlaylistService()
    {
        m_tracks.setItemRoleNames({{Qt::DisplayRole, "display"}, {Plays, "plays"}});
        int plays = 1;
        for (const char *title : {"a", "b", "c"})
            m_tracks.appendRow(track(QString::fromUtf8(title), plays++));
        setTitle(QStringLiteral("mix"));
        setTracks(&m_tracks);
    }
    void append(QString title) override { m_tracks.appendRow(track(title, 0)); }

private:
    static QStandardItem *track(const QString &title, int plays)
    {
        auto *item = new QStandardItem(title);
        item->setData(plays, Plays);
        return item;
    }
    QStandardItemModel m_tracks;
};

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    if (argc < 2) {
        std::printf("usage: playlist_host URL\n");
        return 1;
    }
    QRemoteObjectHost host(QUrl(QString::fromUtf8(argv[1])));
    PlaylistService playlist;
    if (!host.enableRemoting(&playlist)) {
        std::printf("enableRemoting failed\n");
        return 1;
    }
    std::printf("listening on %s\n", qPrintable(host.hostUrl().toString()));
    std::fflush(stdout);
    return app.exec();
}
