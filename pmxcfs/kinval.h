/*
 * kinval.h - kernel cache notifications for the FUSE layer.
 *
 * pmxcfs lets the kernel cache attributes, directory entries and file pages
 * (that is what makes repeated reads cheap) and must tell it when something
 * changed behind its back.  Three kinds of notification, by where they may
 * be made:
 *   - attributes only (kinval_inode_attrs): takes no kernel lock, so any
 *     thread may make it, also a request thread before it answers;
 *   - pages plus new content (kinval_inode_store): may wait for a page that
 *     a request in flight holds, so only a request thread that has already
 *     answered makes it (another worker answers the request it waits for);
 *   - directory entries (kinval_entry): take the parent directory's lock,
 *     which the requesting process may hold, so they are made by this
 *     module's own thread; a caller that needs one done before it answers
 *     waits with a deadline, and if the deadline passes it logs and answers
 *     anyway, so a kernel-side lock can delay but never freeze the mount.
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
/*
 * After kinval_attach(k, NULL): wait up to ms until the thread is out of any
 * notify call that still uses the old session (one may wait for a lock that
 * a request of the ending session holds, released when it is unmounted).
 * 0, or -EBUSY: the session must not be destroyed, nor k freed.
 */
int kinval_quiesce(struct kinval *k, unsigned ms);
/* Stop the thread; pending items are dropped. */
void kinval_free(struct kinval *k);

/*
 * Drop only the inode's attributes, now, from the calling thread.  Unlike
 * page invalidation this takes no kernel lock, so a request thread may call
 * it before answering: a stat() after close() then asks pmxcfs again.
 */
void kinval_inode_attrs(struct kinval *k, uint64_t inode);

/*
 * Drop the inode's attributes and pages, then store data (len bytes, now
 * owned by kinval) as its new content in the kernel's page cache, so the
 * next reader is served without a READ; the callback set with
 * kinval_set_store_done() gets version and whether the store took place
 * (exactly once per call, with no kinval lock held).  Made by the calling
 * thread, now: only for a request thread that has already sent its reply (a
 * notify call may wait for a page that a request in flight holds, which
 * another worker answers - reqloop keeps one free - but never for a lock of
 * the caller's own request).
 */
void kinval_inode_store(struct kinval *k, uint64_t inode, uint64_t version, char *data, size_t len);
typedef void (*kinval_store_done_fn)(void *ctx, uint64_t inode, uint64_t version, bool ok);
void kinval_set_store_done(struct kinval *k, kinval_store_done_fn fn, void *ctx);
/* Drop the directory entry name in parent; wait for it when wait is set. */
void kinval_entry(struct kinval *k, uint64_t parent, const char *name, bool wait);
/*
 * Call fn(ctx, a, b) once every entry invalidation queued before it was
 * delivered: from kinval's thread, or at once from the caller's when none
 * is queued or in delivery (or nothing is delivered: not attached yet, or
 * stopping; or from kinval_free for one still queued).
 * pmxcfs releases the change feed this way: a watcher hears of a remote
 * change only after the kernel forgot the entries it replaced.
 */
typedef void (*kinval_call_fn)(void *ctx, uint64_t a, uint64_t b);
void kinval_call(struct kinval *k, kinval_call_fn fn, void *ctx, uint64_t a, uint64_t b);

#endif
