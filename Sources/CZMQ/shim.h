#include <zmq.h>
#include <errno.h>

// zmq_pollitem_t's `socket` is a void *: these keep Swift from spelling out the struct layout.
static inline zmq_pollitem_t joule_zmq_pollitem(void *socket, short events) {
    zmq_pollitem_t item = { socket, 0, events, 0 };
    return item;
}
