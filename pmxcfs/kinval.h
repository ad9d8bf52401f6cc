/*
 * kinval.h - kernel cache invalidation queue for the FUSE layer.
 *
 * pmxcfs lets the kernel cache attributes, directory entries and file pages
 * (that is what makes repeated reads cheap) and must tell it when something
 * changed.  The notify calls (fuse_lowlevel_notify_inval_*) may block on
 * kernel locks held by the very request that caused the change, so they are
 * never made from a request thread or with a pmxcfs lock held: this module
 * makes them from its own thread.  A request that needs the invalidation to
 * be complete before it answers (close-to-open consistency after a write)
 * waits for it with a deadline; if the deadline passes it logs and answers
 * anyway, so a kernel-side lock can delay but never freeze the mount.
 */
#ifndef PMXCFS_KINVAL_H
#define PMXCFS_KINVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fuse_session;
struct kinval;

int kinval_new(struct kinval **out);
/*
 * Start delivering to se (after the session is mounted and the process
 * daemonized: the first attach starts the thread); NULL stops delivering.
 */
int kinval_attach(struct kinval *k, struct fuse_session *se);
/* Stop the thread; pending items are dropped. */
void kinval_free(struct kinval *k);

/* Drop attributes and cached pages of inode; wait for it when wait is set. */
void kinval_inode(struct kinval *k, uint64_t inode, bool wait);
/*
 * Drop only the inode's attributes, now, from the calling thread.  Unlike
 * page invalidation this takes no kernel lock, so a request thread may call
 * it before answering: a stat() after close() then asks pmxcfs again.
 */
void kinval_inode_attrs(struct kinval *k, uint64_t inode);
/*
 * Wait (with the same deadline) until every invalidation queued so far has
 * been delivered: an open that is about to let the kernel use its cache
 * calls it when the file changed since the kernel last cached it.
 */
void kinval_flush(struct kinval *k);

/*
 * Drop the inode's attributes and pages and, with store set, then store
 * data (len bytes, now owned by kinval) as its new content in the kernel's
 * page cache, so the next reader is served without a READ; the callback
 * set with kinval_set_store_done() gets version and whether the store took
 * place (exactly once per store call, with no kinval lock held).  Made by
 * the calling thread, now: only for a request thread that has already sent
 * its reply (a notify call may wait for a page that a request in flight
 * holds, which another worker answers - reqloop keeps one free - but never
 * for a lock of the caller's own request).
 */
void kinval_inode_now(struct kinval *k, uint64_t inode, uint64_t version, char *data, size_t len,
                      bool store);
typedef void (*kinval_store_done_fn)(void *ctx, uint64_t inode, uint64_t version, bool ok);
void kinval_set_store_done(struct kinval *k, kinval_store_done_fn fn, void *ctx);
/* Drop the directory entry name in parent; wait for it when wait is set. */
void kinval_entry(struct kinval *k, uint64_t parent, const char *name, bool wait);

#endif
