#ifndef BULKHEAD_CSYSTEMD_SHIM_H
#define BULKHEAD_CSYSTEMD_SHIM_H
// Journal calls without the CODE_FILE/CODE_LINE macro wrappers, which Swift cannot import.
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <systemd/sd-event.h>
#endif
