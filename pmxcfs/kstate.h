/*
 * kstate.h - what the kernel may hold about each file, and the policy that
 * follows from it: which read-only opens may use the kernel page cache.
 *
 * The kernel keeps ONE page cache and ONE size (i_size) per inode, shared by
 * every open file.  pmxcfs gives each reader a snapshot of the version it
 * opened, and each writer a private buffer, so the shared page cache is only
 * safe while all page-cached readers of an inode read the same version.
 * The size reported to the kernel is always the committed one (a stat must
 * be right), and the kernel bounds page-cache reads by it.  A size that
 * grows under a page-cached reader would show it zeros past its end (the
 * page tail past EOF is zero-filled and cached; a short READ shrinks the
 * kernel's size only when no other attribute change raced it), so a writer
 * first waits for page-cached readers to close and keeps new readers on
 * direct I/O until it closes (kstate_writer_open).  A reader that stays
 * open longer than that wait reads its own bytes up to the current size: a
 * shorter new version ends it early, a longer one may show it zeros.
 * Called by cfs_fuse only.
 *
 * Per inode (an entry exists only while one of these holds):
 *   pc_count > 0   page-cached readers are open, all of version pc_version;
 *                  the cache holds only pc_version's bytes
 *   draining       the last reader of a superseded version closed; the
 *                  caller is dropping the kernel's cached size
 *   storing        a just-committed version is being pushed into the
 *                  kernel's page cache (only when no reader had it cached)
 *   writers > 0    writable handles are open: readers use direct I/O
 *
 * Invariant: a read-only open gets the page cache only when no entry holds
 * a different version, has a writer, is draining or storing another
 * version; every other
 * reader is served by direct I/O from its own snapshot.  So stale bytes are
 * only ever read by readers of the version they belong to.  Writers never
 * touch the shared cache (direct I/O into a private buffer): a writer's
 * fstat() shows the committed size until its close.
 *
 *   (none) --kstate_reader_open--> pc_count>0 --kstate_reader_close-->
 *       version current: (none)
 *       superseded:      draining --caller invalidates, kstate_drained--> (none)
 *   (none) --kstate_store_begin--> storing --kstate_store_end--> (none)
 *
 * All functions are thread-safe; none blocks or calls into the kernel.
 */
#ifndef PMXCFS_KSTATE_H
#define PMXCFS_KSTATE_H

#include <stdbool.h>
#include <stdint.h>

struct kstate;

int kstate_new(struct kstate **out);
void kstate_free(struct kstate *ks);

/*
 * A read-only open of inode, whose snapshot is version/size.  Returns true
 * when the handle may use the page cache (it is then counted until
 * kstate_reader_close), false when it must use direct I/O.
 */
bool kstate_reader_open(struct kstate *ks, uint64_t inode, uint64_t version);

/*
 * A page-cached reader of version closed; cur_version is the file's current
 * version (0 if it is gone).  Returns true when the kernel's pages and size of
 * the inode must be dropped (the last reader of a superseded version): the
 * caller does that, then calls kstate_drained().
 */
bool kstate_reader_close(struct kstate *ks, uint64_t inode, uint64_t version, uint64_t cur_version);

/*
 * A writable open of inode.  From now until kstate_writer_close, readers of
 * the inode use direct I/O: a writer's direct writes grow the kernel's size
 * of the inode before its commit, and a page-cached reader would then read
 * zeros past its own end.  Waits up to wait_ms for page-cached readers that
 * are still open to close (a config file is read in microseconds); returns
 * false when some stay open longer (they keep their risk, see pmxcfs.8).
 */
bool kstate_writer_open(struct kstate *ks, uint64_t inode, unsigned wait_ms);
void kstate_writer_close(struct kstate *ks, uint64_t inode);

/*
 * A commit made version the file's content: may it be pushed into the
 * kernel's page cache (so the next reader needs no READ)?  Only when no
 * page-cached reader is open, nothing is draining and no other store runs
 * (no page-cached reader of another version could see the new pages); open
 * writers do not matter.  True: the caller pushes it, then calls
 * kstate_store_end(); meanwhile readers of other versions use direct I/O.
 */
bool kstate_store_begin(struct kstate *ks, uint64_t inode, uint64_t version);
void kstate_store_end(struct kstate *ks, uint64_t inode);

/* The kernel's view of inode was dropped after kstate_reader_close said so. */
void kstate_drained(struct kstate *ks, uint64_t inode);

#endif
