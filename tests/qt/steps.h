// What the Qt test programs share: a line of output at once, and a wait on a condition
// while Qt's event loop runs.
#pragma once
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QString>
#include <cstdio>
#include <functional>

static inline void say(const QString &line)
{
    std::printf("%s\n", qPrintable(line));
    std::fflush(stdout);
}

static inline bool waitFor(const std::function<bool()> &done, int ms = 10000)
{
    QElapsedTimer timer;
    timer.start();
    while (!done()) {
        if (timer.elapsed() > ms)
            return false;
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents, 50);
    }
    return true;
}
