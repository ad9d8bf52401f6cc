/*
 * memdb.c - the in-memory tree and its validator; see memdb.h for the
 * contract and the invariants.
 *
 * Representation: every node sits in two intrusive hash tables, by inode
 * number and by (parent, name); directories keep a doubly linked child list
 * for readdir and emptiness checks; registered guest configs sit in a third
 * table by guest id.  All three are chained hash tables with power-of-two
 * bucket counts that double when the load factor passes 1.
 */
#define LOG_SUBSYS "memdb"
#include "pmxcfs/memdb.h"
#include "pmxcfs/log.h"
#include "pmxcfs/pathname.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct memdb_node {
	uint64_t inode;
	uint64_t parent;
	uint64_t version;
	int64_t mtime;
	uint8_t type;
	uint8_t mark; /* load-time cycle check */
	uint32_t name_len;
	char *name; /* NUL terminated */
	char *data;
	uint32_t size;
	uint64_t vmid; /* != 0: registered guest config */
	uint64_t kcache_version; /* version the kernel page cache may hold */
	struct memdb_node *ino_next, *ent_next, *vm_next;
	struct memdb_node *parent_node;
	struct memdb_node *child_first, *sib_next, *sib_prev;
	uint32_t nchildren;
};

struct htab {
	struct memdb_node **b;
	size_t mask;
	size_t count;
};

struct memdb {
	pthread_rwlock_t lock;
	struct htab by_ino, by_ent, by_vm;
	struct memdb_node *root;
	uint64_t version;
	uint64_t total_size;
	uint64_t ninodes;
	/*
	 * The last files removed (unlink, rename over): a reader whose lookup
	 * raced with the removal may still open them and read that version.
	 * Not part of the tree or the database; never read by memdb_apply.
	 */
	struct memdb_node *grave[MEMDB_GRAVE_SLOTS];
	unsigned grave_next;
	/* memdb_poison(): the tree may hold state that is not on disk */
	bool poisoned;
};

/* ---- hashing ---- */

static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static uint64_t ent_hash(uint64_t parent, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
	return h ^ mix64(parent);
}

enum htab_kind { BY_INO, BY_ENT, BY_VM };

static struct memdb_node **next_of(struct memdb_node *n, enum htab_kind k)
{
	switch (k) {
	case BY_INO:
		return &n->ino_next;
	case BY_ENT:
		return &n->ent_next;
	default:
		return &n->vm_next;
	}
}

static uint64_t hash_of(struct memdb_node *n, enum htab_kind k)
{
	switch (k) {
	case BY_INO:
		return mix64(n->inode);
	case BY_ENT:
		return ent_hash(n->parent, n->name, n->name_len);
	default:
		return mix64(n->vmid);
	}
}

static int htab_init(struct htab *t)
{
	t->mask = 63;
	t->count = 0;
	t->b = calloc(t->mask + 1, sizeof(*t->b));
	return t->b ? 0 : -ENOMEM;
}

static void htab_grow(struct htab *t, enum htab_kind k)
{
	size_t nmask = t->mask * 2 + 1;
	struct memdb_node **nb = calloc(nmask + 1, sizeof(*nb));

	if (!nb)
		return; /* keep the old table: slower, still correct */
	for (size_t i = 0; i <= t->mask; i++) {
		struct memdb_node *n = t->b[i], *next;
		for (; n; n = next) {
			next = *next_of(n, k);
			size_t j = hash_of(n, k) & nmask;
			*next_of(n, k) = nb[j];
			nb[j] = n;
		}
	}
	free(t->b);
	t->b = nb;
	t->mask = nmask;
}

static void htab_insert(struct htab *t, struct memdb_node *n, enum htab_kind k)
{
	if (t->count >= t->mask)
		htab_grow(t, k);
	size_t j = hash_of(n, k) & t->mask;
	*next_of(n, k) = t->b[j];
	t->b[j] = n;
	t->count++;
}

static void htab_remove(struct htab *t, struct memdb_node *n, enum htab_kind k)
{
	struct memdb_node **pp = &t->b[hash_of(n, k) & t->mask];
	for (; *pp; pp = next_of(*pp, k)) {
		if (*pp == n) {
			*pp = *next_of(n, k);
			t->count--;
			return;
		}
	}
}

static struct memdb_node *find_ino(struct memdb *db, uint64_t inode)
{
	struct memdb_node *n = db->by_ino.b[mix64(inode) & db->by_ino.mask];
	for (; n; n = n->ino_next)
		if (n->inode == inode)
			return n;
	return NULL;
}

static struct memdb_node *find_ent(struct memdb *db, uint64_t parent, const char *name, size_t len)
{
	struct memdb_node *n = db->by_ent.b[ent_hash(parent, name, len) & db->by_ent.mask];
	for (; n; n = n->ent_next)
		if (n->parent == parent && n->name_len == len && memcmp(n->name, name, len) == 0)
			return n;
	return NULL;
}

static struct memdb_node *find_vm(struct memdb *db, uint64_t vmid)
{
	struct memdb_node *n = db->by_vm.b[mix64(vmid) & db->by_vm.mask];
	for (; n; n = n->vm_next)
		if (n->vmid == vmid)
			return n;
	return NULL;
}

/* ---- nodes ---- */

static struct memdb_node *node_new(uint64_t inode, uint64_t parent, uint64_t version, int64_t mtime,
                                   uint8_t type, const char *name, size_t len)
{
	struct memdb_node *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->name = malloc(len + 1);
	if (!n->name) {
		free(n);
		return NULL;
	}
	memcpy(n->name, name, len);
	n->name[len] = '\0';
	n->name_len = (uint32_t)len;
	n->inode = inode;
	n->parent = parent;
	n->version = version;
	n->mtime = mtime;
	n->type = type;
	return n;
}

static void node_free(struct memdb_node *n)
{
	if (!n)
		return;
	free(n->name);
	free(n->data);
	free(n);
}

static void child_link(struct memdb_node *dir, struct memdb_node *n)
{
	n->parent_node = dir;
	n->sib_prev = NULL;
	n->sib_next = dir->child_first;
	if (dir->child_first)
		dir->child_first->sib_prev = n;
	dir->child_first = n;
	dir->nchildren++;
}

static void child_unlink(struct memdb_node *dir, struct memdb_node *n)
{
	if (n->sib_prev)
		n->sib_prev->sib_next = n->sib_next;
	else
		dir->child_first = n->sib_next;
	if (n->sib_next)
		n->sib_next->sib_prev = n->sib_prev;
	n->sib_next = n->sib_prev = NULL;
	n->parent_node = NULL;
	dir->nchildren--;
}

static bool node_named(const struct memdb_node *n, const char *lit)
{
	size_t l = strlen(lit);
	return n && n->name_len == l && memcmp(n->name, lit, l) == 0;
}

/* The guest type of directory dir: nodes/<node>/{lxc,qemu-server} only. */
static int guest_dir_type(const struct memdb_node *dir)
{
	const struct memdb_node *nodedir, *nodes;

	if (!dir || dir->type != MEMDB_DIR)
		return CFS_GUEST_NONE;
	int t = cfs_guest_dir_type(dir->name, dir->name_len);
	if (t == CFS_GUEST_NONE)
		return t;
	nodedir = dir->parent_node;
	nodes = nodedir ? nodedir->parent_node : NULL;
	if (!nodes || !node_named(nodes, "nodes") || !nodes->parent_node ||
	    nodes->parent_node->inode != MEMDB_ROOT_INODE)
		return CFS_GUEST_NONE;
	return t;
}

/*
 * Is (parent, name) a position that carries the guest layout: /nodes,
 * /nodes/<node> or /nodes/<node>/{lxc,qemu-server}?
 */
static bool structural_position(const struct memdb_node *parent, const char *name, size_t len)
{
	if (parent->inode == MEMDB_ROOT_INODE)
		return len == 5 && memcmp(name, "nodes", 5) == 0;
	if (node_named(parent, "nodes") && parent->parent_node &&
	    parent->parent_node->inode == MEMDB_ROOT_INODE)
		return true;
	return cfs_guest_dir_type(name, len) != CFS_GUEST_NONE && parent->parent_node &&
	    node_named(parent->parent_node, "nodes") && parent->parent_node->parent_node &&
	    parent->parent_node->parent_node->inode == MEMDB_ROOT_INODE;
}

/*
 * How many levels below a directory moved to a structural position under
 * parent the guest directories are: 2 for /nodes, 1 for /nodes/<node>, 0 for
 * /nodes/<node>/{lxc,qemu-server} itself.
 */
static int layout_depth(const struct memdb_node *parent)
{
	if (parent->inode == MEMDB_ROOT_INODE)
		return 2;
	if (node_named(parent, "nodes"))
		return 1;
	return 0;
}

/*
 * Would moving dir to a structural position put a directory inside a guest
 * directory?  depth: as layout_depth().
 */
static bool guest_dirs_would_hold_dirs(const struct memdb_node *dir, int depth)
{
	for (const struct memdb_node *c = dir->child_first; c; c = c->sib_next) {
		if (c->type != MEMDB_DIR)
			continue;
		if (depth == 0)
			return true;
		if (depth == 2 || cfs_guest_dir_type(c->name, c->name_len) != CFS_GUEST_NONE) {
			if (guest_dirs_would_hold_dirs(c, depth - 1))
				return true;
		}
	}
	return false;
}

static bool subtree_has_files(const struct memdb_node *dir)
{
	for (const struct memdb_node *c = dir->child_first; c; c = c->sib_next) {
		if (c->type == MEMDB_REG)
			return true;
		if (subtree_has_files(c))
			return true;
	}
	return false;
}

/*
 * Age of a lock in seconds, saturated: times come from operations and from
 * utime(), so any int64 value is possible and the difference must not
 * overflow (every node must compute the same verdict).
 */
static int64_t lock_age(int64_t now, int64_t mtime)
{
	int64_t age;
	if (__builtin_sub_overflow(now, mtime, &age))
		age = mtime < 0 ? INT64_MAX : INT64_MIN;
	return age;
}

/* Is dir a lock directory, priv/lock/<name>?  (parent must be /priv/lock) */
static bool is_lock_parent(const struct memdb_node *p)
{
	return p && node_named(p, "lock") && p->parent_node && node_named(p->parent_node, "priv") &&
	    p->parent_node->parent_node && p->parent_node->parent_node->inode == MEMDB_ROOT_INODE;
}

static bool node_is_priv(const struct memdb_node *n)
{
	for (; n && n->inode != MEMDB_ROOT_INODE; n = n->parent_node) {
		if (!node_named(n, "priv") || n->type != MEMDB_DIR)
			continue;
		const struct memdb_node *p = n->parent_node;
		if (p && p->inode == MEMDB_ROOT_INODE)
			return true;
		if (p && p->parent_node && node_named(p->parent_node, "nodes") &&
		    p->parent_node->parent_node &&
		    p->parent_node->parent_node->inode == MEMDB_ROOT_INODE)
			return true;
	}
	return false;
}

static void fill_stat(const struct memdb_node *n, struct memdb_stat *st)
{
	st->inode = n->inode;
	st->parent = n->parent;
	st->version = n->version;
	st->mtime = n->mtime;
	st->type = n->type;
	st->size = n->type == MEMDB_REG ? n->size : 0;
	st->priv = node_is_priv(n);
}

static void fill_row(const struct memdb_node *n, struct memdb_row *r)
{
	r->inode = n->inode;
	r->parent = n->parent;
	r->version = n->version;
	r->mtime = n->mtime;
	r->type = n->type;
	r->name = n->name;
	r->name_len = n->name_len;
	r->data = n->data;
	r->size = n->size;
}

/* ---- life cycle ---- */

struct memdb *memdb_new_empty(void)
{
	struct memdb *db = calloc(1, sizeof(*db));
	pthread_rwlockattr_t attr;

	if (!db)
		return NULL;
	if (htab_init(&db->by_ino) || htab_init(&db->by_ent) || htab_init(&db->by_vm)) {
		free(db->by_ino.b);
		free(db->by_ent.b);
		free(db->by_vm.b);
		free(db);
		return NULL;
	}
	pthread_rwlockattr_init(&attr);
	/* writers (dfsm's batch leader) must not starve behind a stream of readers */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&db->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return db;
}

struct memdb *memdb_new(void)
{
	struct memdb *db = memdb_new_empty();
	char err[128];
	struct memdb_row root = {
		.inode = MEMDB_ROOT_INODE,
		.parent = 0,
		.version = 1,
		.type = MEMDB_DIR,
		.name = "",
		.name_len = 0,
	};

	if (!db)
		return NULL;
	if (memdb_load_row(db, &root, err, sizeof(err)) ||
	    memdb_load_finish(db, 1, err, sizeof(err))) {
		memdb_free(db);
		return NULL;
	}
	return db;
}

void memdb_free(struct memdb *db)
{
	if (!db)
		return;
	for (size_t i = 0; i <= db->by_ino.mask; i++) {
		struct memdb_node *n = db->by_ino.b[i], *next;
		for (; n; n = next) {
			next = n->ino_next;
			node_free(n);
		}
	}
	for (unsigned i = 0; i < MEMDB_GRAVE_SLOTS; i++)
		node_free(db->grave[i]);
	free(db->by_ino.b);
	free(db->by_ent.b);
	free(db->by_vm.b);
	pthread_rwlock_destroy(&db->lock);
	free(db);
}

void memdb_swap(struct memdb *a, struct memdb *b)
{
	struct htab t;
	struct memdb_node *r;
	uint64_t v;

#define SWAP(x, y, tmp)                                                                            \
	do {                                                                                       \
		tmp = x;                                                                           \
		x = y;                                                                             \
		y = tmp;                                                                           \
	} while (0)
	SWAP(a->by_ino, b->by_ino, t);
	SWAP(a->by_ent, b->by_ent, t);
	SWAP(a->by_vm, b->by_vm, t);
	SWAP(a->root, b->root, r);
	SWAP(a->version, b->version, v);
	SWAP(a->total_size, b->total_size, v);
	SWAP(a->ninodes, b->ninodes, v);
#undef SWAP
}

void memdb_poison(struct memdb *db)
{
	db->poisoned = true;
}

void memdb_wrlock(struct memdb *db)
{
	pthread_rwlock_wrlock(&db->lock);
}

void memdb_unlock(struct memdb *db)
{
	pthread_rwlock_unlock(&db->lock);
}

/* ---- loading ---- */

int memdb_load_row(struct memdb *db, const struct memdb_row *row, char *errbuf, size_t errlen)
{
	struct memdb_node *n;

	if (row->type != MEMDB_DIR && row->type != MEMDB_REG) {
		snprintf(errbuf, errlen, "inode %" PRIu64 ": unknown type %u", row->inode,
		         row->type);
		return -EINVAL;
	}
	if (row->inode == 0 || row->version == 0) {
		snprintf(errbuf, errlen, "inode %" PRIu64 ": zero inode or version", row->inode);
		return -EINVAL;
	}
	if (find_ino(db, row->inode)) {
		snprintf(errbuf, errlen, "inode %" PRIu64 " appears twice", row->inode);
		return -EINVAL;
	}
	if (row->type == MEMDB_DIR && row->size) {
		snprintf(errbuf, errlen, "inode %" PRIu64 ": directory with content", row->inode);
		return -EINVAL;
	}
	if (row->size > MEMDB_MAX_FILE_SIZE) {
		snprintf(errbuf, errlen,
		         "inode %" PRIu64 ": file of %zu bytes exceeds the %d byte limit",
		         row->inode, row->size, MEMDB_MAX_FILE_SIZE);
		return -EINVAL;
	}
	if (row->inode == MEMDB_ROOT_INODE) {
		if (row->type != MEMDB_DIR || row->name_len != 0) {
			snprintf(errbuf, errlen, "root inode is not an unnamed directory");
			return -EINVAL;
		}
	} else {
		int err = cfs_name_check(row->name, row->name_len);
		if (err) {
			snprintf(errbuf, errlen, "inode %" PRIu64 ": invalid name (%s)", row->inode,
			         err == -ENAMETOOLONG ? "too long"
			                              : "empty, '.', '..', '/' or NUL");
			return -EINVAL;
		}
	}
	if (db->ninodes >= MEMDB_MAX_INODES) {
		snprintf(errbuf, errlen, "more than %d inodes", MEMDB_MAX_INODES);
		return -EINVAL;
	}
	n = node_new(row->inode, row->parent, row->version, row->mtime, row->type, row->name,
	             row->name_len);
	if (!n) {
		snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	if (row->size) {
		n->data = malloc(row->size);
		if (!n->data) {
			node_free(n);
			snprintf(errbuf, errlen, "out of memory");
			return -ENOMEM;
		}
		memcpy(n->data, row->data, row->size);
		n->size = (uint32_t)row->size;
	}
	htab_insert(&db->by_ino, n, BY_INO);
	db->ninodes++;
	db->total_size += n->size;
	if (n->inode == MEMDB_ROOT_INODE)
		db->root = n;
	return 0;
}

/* Walk up from n; 0 when the root is reached, -EINVAL on a cycle. */
static int check_reaches_root(struct memdb_node *n)
{
	struct memdb_node *p;

	for (p = n; p && p->mark != 2 && p->inode != MEMDB_ROOT_INODE; p = p->parent_node) {
		if (p->mark == 1)
			return -EINVAL;
		p->mark = 1;
	}
	for (p = n; p && p->mark == 1; p = p->parent_node)
		p->mark = 2;
	return 0;
}

int memdb_load_finish(struct memdb *db, uint64_t version, char *errbuf, size_t errlen)
{
	uint64_t maxv = 0;
	const struct memdb_node *maxino = NULL;

	if (!db->root) {
		snprintf(errbuf, errlen, "no root directory (inode %d)", MEMDB_ROOT_INODE);
		return -EINVAL;
	}
	/* pass 1: parents exist, are directories; names unique per directory */
	for (size_t i = 0; i <= db->by_ino.mask; i++) {
		for (struct memdb_node *n = db->by_ino.b[i]; n; n = n->ino_next) {
			if (n->version > maxv)
				maxv = n->version;
			if (!maxino || n->inode > maxino->inode)
				maxino = n;
			if (n == db->root)
				continue;
			struct memdb_node *p = find_ino(db, n->parent);
			if (!p || p->type != MEMDB_DIR) {
				snprintf(errbuf, errlen,
				         "inode %" PRIu64 " ('%s'): parent %" PRIu64 " %s",
				         n->inode, n->name, n->parent,
				         p ? "is not a directory" : "does not exist");
				return -EINVAL;
			}
			struct memdb_node *dup = find_ent(db, n->parent, n->name, n->name_len);
			if (dup) {
				snprintf(errbuf, errlen,
				         "duplicate name '%s' in directory %" PRIu64
				         " (inodes %" PRIu64 " and %" PRIu64 ")",
				         n->name, n->parent, dup->inode, n->inode);
				return -EINVAL;
			}
			htab_insert(&db->by_ent, n, BY_ENT);
			child_link(p, n);
		}
	}
	/* pass 2: everything reaches the root; guest ids are unique */
	for (size_t i = 0; i <= db->by_ino.mask; i++) {
		for (struct memdb_node *n = db->by_ino.b[i]; n; n = n->ino_next) {
			uint64_t vmid;
			if (check_reaches_root(n)) {
				snprintf(errbuf, errlen,
				         "inode %" PRIu64 " ('%s') is part of a cycle", n->inode,
				         n->name);
				return -EINVAL;
			}
			if (n->type != MEMDB_REG || !guest_dir_type(n->parent_node))
				continue;
			if (!cfs_guest_name_parse(n->name, n->name_len, &vmid) ||
			    vmid < CFS_MIN_GUEST_ID || vmid > CFS_MAX_GUEST_ID)
				continue;
			struct memdb_node *other = find_vm(db, vmid);
			if (other) {
				snprintf(errbuf, errlen,
				         "guest id %" PRIu64 " has two configs (inodes %" PRIu64
				         " and %" PRIu64 ")",
				         vmid, other->inode, n->inode);
				return -EINVAL;
			}
			n->vmid = vmid;
			htab_insert(&db->by_vm, n, BY_VM);
		}
	}
	if (db->total_size > MEMDB_MAX_TOTAL_SIZE) {
		snprintf(errbuf, errlen, "total size %" PRIu64 " exceeds the limit of %d bytes",
		         db->total_size, MEMDB_MAX_TOTAL_SIZE);
		return -EINVAL;
	}
	if (version < maxv) {
		snprintf(errbuf, errlen,
		         "database version %" PRIu64 " is older than its newest entry (%" PRIu64
		         ")",
		         version, maxv);
		return -EINVAL;
	}
	/* new inodes are numbered by version: a higher one would be handed out twice */
	if (maxino && maxino->inode > version) {
		snprintf(errbuf, errlen,
		         "inode %" PRIu64 " ('%s') is above the database version %" PRIu64,
		         maxino->inode, maxino->name, version);
		return -EINVAL;
	}
	db->version = version;
	return 0;
}

int memdb_foreach_row(struct memdb *db, memdb_row_cb cb, void *ctx)
{
	struct memdb_row r;
	for (size_t i = 0; i <= db->by_ino.mask; i++) {
		for (struct memdb_node *n = db->by_ino.b[i]; n; n = n->ino_next) {
			fill_row(n, &r);
			int err = cb(ctx, &r);
			if (err)
				return err;
		}
	}
	return 0;
}

/* ---- apply ---- */

struct persist {
	const struct memdb_store *store;
	int err;
};

static void persist_node(struct persist *p, const struct memdb_node *n)
{
	struct memdb_row r;
	if (!p->store || p->err)
		return;
	fill_row(n, &r);
	p->err = p->store->write_row(p->store->ctx, &r);
}

static void persist_delete(struct persist *p, uint64_t inode)
{
	if (!p->store || p->err)
		return;
	p->err = p->store->delete_row(p->store->ctx, inode);
}

static void persist_version(struct persist *p, uint64_t version)
{
	if (!p->store || p->err)
		return;
	p->err = p->store->set_version(p->store->ctx, version);
}

static void touch_dir(struct memdb_node *dir, uint64_t version, int64_t now, struct persist *p)
{
	dir->version = version;
	dir->mtime = now;
	persist_node(p, dir);
}

static void remove_node(struct memdb *db, struct memdb_node *n, struct persist *p)
{
	if (n->vmid)
		htab_remove(&db->by_vm, n, BY_VM);
	htab_remove(&db->by_ent, n, BY_ENT);
	htab_remove(&db->by_ino, n, BY_INO);
	child_unlink(n->parent_node, n);
	db->total_size -= n->size;
	db->ninodes--;
	persist_delete(p, n->inode);
	if (n->type == MEMDB_REG) {
		unsigned slot = db->grave_next++ % MEMDB_GRAVE_SLOTS;
		node_free(db->grave[slot]);
		db->grave[slot] = n;
	} else {
		node_free(n);
	}
}

static int lookup_parent(struct memdb *db, uint64_t inode, struct memdb_node **out)
{
	struct memdb_node *p = find_ino(db, inode);
	if (!p)
		return -ENOENT;
	if (p->type != MEMDB_DIR)
		return -ENOTDIR;
	*out = p;
	return 0;
}

static int apply_create(struct memdb *db, const struct cfs_op *op, uint8_t type,
                        struct memdb_result *res, struct persist *p)
{
	struct memdb_node *parent, *n;
	uint64_t vmid = 0;
	int err;

	if ((err = lookup_parent(db, op->parent, &parent)))
		return err;
	if ((err = cfs_name_check(op->name, op->name_len)))
		return err;
	if (parent == db->root && cfs_root_reserved_name(op->name, op->name_len))
		return -EEXIST;
	n = find_ent(db, parent->inode, op->name, op->name_len);
	if (n) {
		/* mkdir of an expired lock takes it over */
		if (type == MEMDB_DIR && n->type == MEMDB_DIR && is_lock_parent(parent) &&
		    lock_age(op->now, n->mtime) > MEMDB_LOCK_TIMEOUT) {
			uint64_t v = ++db->version;
			log_printf(LOG_NOTICE, "lock '%s' expired (age %" PRId64 " s), taken over",
			           n->name, lock_age(op->now, n->mtime));
			n->mtime = op->now;
			n->version = v;
			persist_node(p, n);
			persist_version(p, v);
			res->inode = n->inode;
			return 0;
		}
		return -EEXIST;
	}
	if (guest_dir_type(parent)) {
		if (type == MEMDB_DIR)
			return -EINVAL;
		if ((err = cfs_guest_name_check(op->name, op->name_len, &vmid)))
			return err;
		if (vmid && find_vm(db, vmid))
			return -EEXIST;
	}
	if (db->ninodes >= MEMDB_MAX_INODES)
		return -ENOSPC;

	uint64_t v = db->version + 1;
	n = node_new(v, parent->inode, v, op->now, type, op->name, op->name_len);
	if (!n)
		return -ENOMEM;
	db->version = v;
	htab_insert(&db->by_ino, n, BY_INO);
	htab_insert(&db->by_ent, n, BY_ENT);
	child_link(parent, n);
	db->ninodes++;
	if (vmid) {
		n->vmid = vmid;
		htab_insert(&db->by_vm, n, BY_VM);
	}
	persist_node(p, n);
	touch_dir(parent, v, op->now, p);
	persist_version(p, v);
	res->inode = n->inode;
	return 0;
}

static int apply_remove(struct memdb *db, const struct cfs_op *op, bool dir, struct persist *p)
{
	struct memdb_node *parent, *n;
	int err;

	if ((err = lookup_parent(db, op->parent, &parent)))
		return err;
	if ((err = cfs_name_check(op->name, op->name_len)))
		return err;
	if (parent == db->root && cfs_root_reserved_name(op->name, op->name_len))
		return -EACCES;
	n = find_ent(db, parent->inode, op->name, op->name_len);
	if (!n)
		return -ENOENT;
	if (dir && n->type != MEMDB_DIR)
		return -ENOTDIR;
	if (!dir && n->type == MEMDB_DIR)
		return -EISDIR;
	if (dir && n->nchildren)
		return -ENOTEMPTY;

	uint64_t v = ++db->version;
	remove_node(db, n, p);
	touch_dir(parent, v, op->now, p);
	persist_version(p, v);
	return 0;
}

static bool is_ancestor(const struct memdb_node *a, const struct memdb_node *n)
{
	for (; n; n = n->parent_node)
		if (n == a)
			return true;
	return false;
}

static int apply_rename(struct memdb *db, const struct cfs_op *op, struct persist *p)
{
	struct memdb_node *sp, *dp, *src, *dst;
	uint64_t vmid = 0;
	int err;

	if ((err = lookup_parent(db, op->parent, &sp)) ||
	    (err = lookup_parent(db, op->newparent, &dp)))
		return err;
	if ((err = cfs_name_check(op->name, op->name_len)) ||
	    (err = cfs_name_check(op->newname, op->newname_len)))
		return err;
	if ((sp == db->root && cfs_root_reserved_name(op->name, op->name_len)) ||
	    (dp == db->root && cfs_root_reserved_name(op->newname, op->newname_len)))
		return -EACCES;
	src = find_ent(db, sp->inode, op->name, op->name_len);
	if (!src)
		return -ENOENT;
	dst = find_ent(db, dp->inode, op->newname, op->newname_len);
	if (dst == src)
		return 0; /* POSIX: renaming a name onto itself does nothing */
	if (dst && (op->flags & CFS_OP_F_NOREPLACE))
		return -EEXIST;
	if ((op->flags & CFS_OP_F_IFVERSION) && (!dst || dst->version != (uint64_t)op->mtime))
		return -EAGAIN; /* the target changed since its writer read it */
	if (dst) {
		if (src->type == MEMDB_DIR && dst->type != MEMDB_DIR)
			return -ENOTDIR;
		if (src->type != MEMDB_DIR && dst->type == MEMDB_DIR)
			return -EISDIR;
		if (dst->type == MEMDB_DIR && dst->nchildren)
			return -ENOTEMPTY;
	}
	if (src->type == MEMDB_DIR) {
		if (is_ancestor(src, dp))
			return -EINVAL;
		/*
		 * The guest layout (nodes/<node>/<type>) holding configs is not
		 * moved, and nothing but an empty directory is moved into it (a
		 * subdirectory would end up inside a guest directory).
		 */
		bool from_layout = structural_position(sp, op->name, op->name_len);
		bool to_layout = structural_position(dp, op->newname, op->newname_len);
		if ((from_layout || to_layout) && subtree_has_files(src))
			return -EPERM;
		if (to_layout && guest_dirs_would_hold_dirs(src, layout_depth(dp)))
			return -EPERM;
		if (guest_dir_type(dp))
			return -EINVAL;
	} else if (guest_dir_type(dp)) {
		if ((err = cfs_guest_name_check(op->newname, op->newname_len, &vmid)))
			return err;
		struct memdb_node *owner = vmid ? find_vm(db, vmid) : NULL;
		if (owner && owner != src && owner != dst)
			return -EEXIST;
	}

	char *newname = malloc(op->newname_len + 1);
	if (!newname)
		return -ENOMEM;
	memcpy(newname, op->newname, op->newname_len);
	newname[op->newname_len] = '\0';

	uint64_t v = ++db->version;
	if (dst)
		remove_node(db, dst, p);
	if (src->vmid) {
		htab_remove(&db->by_vm, src, BY_VM);
		src->vmid = 0;
	}
	htab_remove(&db->by_ent, src, BY_ENT);
	child_unlink(sp, src);
	free(src->name);
	src->name = newname;
	src->name_len = op->newname_len;
	src->parent = dp->inode;
	src->version = v;
	htab_insert(&db->by_ent, src, BY_ENT);
	child_link(dp, src);
	if (vmid) {
		src->vmid = vmid;
		htab_insert(&db->by_vm, src, BY_VM);
	}
	persist_node(p, src);
	touch_dir(sp, v, op->now, p);
	if (dp != sp)
		touch_dir(dp, v, op->now, p);
	persist_version(p, v);
	return 0;
}

static int apply_put(struct memdb *db, const struct cfs_op *op, struct persist *p)
{
	struct memdb_node *n = find_ino(db, op->inode);
	char *data = NULL;

	if (!n)
		return -ENOENT;
	if (n->type == MEMDB_DIR)
		return -EISDIR;
	if (op->data_len > MEMDB_MAX_FILE_SIZE)
		return -EFBIG;
	if (db->total_size - n->size + op->data_len > MEMDB_MAX_TOTAL_SIZE)
		return -ENOSPC;
	if (op->data_len) {
		data = malloc(op->data_len);
		if (!data)
			return -ENOMEM;
		memcpy(data, op->data, op->data_len);
	}
	db->total_size = db->total_size - n->size + op->data_len;
	free(n->data);
	n->data = data;
	n->size = op->data_len;
	n->mtime = op->now;
	n->version = ++db->version;
	persist_node(p, n);
	persist_version(p, n->version);
	return 0;
}

static int apply_mtime(struct memdb *db, const struct cfs_op *op, struct persist *p)
{
	struct memdb_node *n = find_ino(db, op->inode);

	if (!n)
		return -ENOENT;
	if (n->type == MEMDB_DIR && op->mtime == 0 && is_lock_parent(n->parent_node)) {
		/* utime(lock, 0, 0): a waiter asks for expiry of a stale lock */
		struct memdb_node *parent = n->parent_node;
		if (lock_age(op->now, n->mtime) <= MEMDB_LOCK_TIMEOUT || n->nchildren)
			return -EBUSY;
		log_printf(LOG_NOTICE, "lock '%s' expired (age %" PRId64 " s), released", n->name,
		           lock_age(op->now, n->mtime));
		uint64_t v = ++db->version;
		remove_node(db, n, p);
		touch_dir(parent, v, op->now, p);
		persist_version(p, v);
		return 0;
	}
	n->mtime = op->mtime;
	n->version = ++db->version;
	persist_node(p, n);
	persist_version(p, n->version);
	return 0;
}

int memdb_apply(struct memdb *db, const struct cfs_op *op, struct memdb_result *res,
                const struct memdb_store *store)
{
	if (db->poisoned)
		return -EIO;
	struct persist p = { .store = store, .err = 0 };

	res->err = 0;
	res->inode = 0;
	switch (op->type) {
	case CFS_OP_CREATE:
		res->err = apply_create(db, op, MEMDB_REG, res, &p);
		break;
	case CFS_OP_MKDIR:
		res->err = apply_create(db, op, MEMDB_DIR, res, &p);
		break;
	case CFS_OP_UNLINK:
		res->err = apply_remove(db, op, false, &p);
		break;
	case CFS_OP_RMDIR:
		res->err = apply_remove(db, op, true, &p);
		break;
	case CFS_OP_RENAME:
		res->err = apply_rename(db, op, &p);
		break;
	case CFS_OP_PUT:
		res->err = apply_put(db, op, &p);
		break;
	case CFS_OP_MTIME:
		res->err = apply_mtime(db, op, &p);
		break;
	default:
		res->err = -EPROTO;
		break;
	}
	res->version = db->version;
	if (p.err) {
		log_printf(LOG_ERR, "persisting %s failed: %s", cfs_op_type_name(op->type),
		           strerror(-p.err));
		return -EIO;
	}
	return 0;
}

/* ---- readers ---- */

uint64_t memdb_version(struct memdb *db)
{
	pthread_rwlock_rdlock(&db->lock);
	uint64_t v = db->version;
	pthread_rwlock_unlock(&db->lock);
	return v;
}

void memdb_usage(struct memdb *db, uint64_t *total_size, uint64_t *inodes)
{
	pthread_rwlock_rdlock(&db->lock);
	*total_size = db->total_size;
	*inodes = db->ninodes;
	pthread_rwlock_unlock(&db->lock);
}

int memdb_getattr(struct memdb *db, uint64_t inode, struct memdb_stat *st)
{
	int err = -ENOENT;
	pthread_rwlock_rdlock(&db->lock);
	if (db->poisoned) {
		pthread_rwlock_unlock(&db->lock);
		return -EIO;
	}
	struct memdb_node *n = find_ino(db, inode);
	if (n) {
		fill_stat(n, st);
		err = 0;
	}
	pthread_rwlock_unlock(&db->lock);
	return err;
}

int memdb_lookup(struct memdb *db, uint64_t parent, const char *name, struct memdb_stat *st)
{
	int err = -ENOENT;
	size_t len = strlen(name);

	if (len > CFS_MAX_NAME_LEN)
		return -ENAMETOOLONG;
	pthread_rwlock_rdlock(&db->lock);
	if (db->poisoned) {
		pthread_rwlock_unlock(&db->lock);
		return -EIO;
	}
	struct memdb_node *p = find_ino(db, parent);
	if (p && p->type != MEMDB_DIR) {
		err = -ENOTDIR;
	} else if (p) {
		struct memdb_node *n = find_ent(db, parent, name, len);
		if (n) {
			fill_stat(n, st);
			err = 0;
		}
	}
	pthread_rwlock_unlock(&db->lock);
	return err;
}

int memdb_name(struct memdb *db, uint64_t inode, char *buf, size_t len)
{
	int err = -ENOENT;
	pthread_rwlock_rdlock(&db->lock);
	if (db->poisoned) {
		pthread_rwlock_unlock(&db->lock);
		return -EIO;
	}
	struct memdb_node *n = find_ino(db, inode);
	if (n) {
		snprintf(buf, len, "%s", n->name);
		err = 0;
	}
	pthread_rwlock_unlock(&db->lock);
	return err;
}

int memdb_resolve(struct memdb *db, const char *path, struct memdb_stat *st)
{
	int err = 0;

	pthread_rwlock_rdlock(&db->lock);
	if (db->poisoned) {
		pthread_rwlock_unlock(&db->lock);
		return -EIO;
	}
	struct memdb_node *n = db->root;
	while (*path && n) {
		const char *slash;
		while (*path == '/')
			path++;
		if (!*path)
			break;
		slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		if (n->type != MEMDB_DIR) {
			err = -ENOTDIR;
			break;
		}
		n = find_ent(db, n->inode, path, len);
		path += len;
	}
	if (!err && !n)
		err = -ENOENT;
	if (!err)
		fill_stat(n, st);
	pthread_rwlock_unlock(&db->lock);
	return err;
}

int memdb_read(struct memdb *db, uint64_t inode, uint64_t off, size_t size, void *buf,
               size_t *nread)
{
	int err = 0;

	*nread = 0;
	pthread_rwlock_rdlock(&db->lock);
	if (db->poisoned) {
		pthread_rwlock_unlock(&db->lock);
		return -EIO;
	}
	struct memdb_node *n = find_ino(db, inode);
	if (!n) {
		err = -ENOENT;
	} else if (n->type == MEMDB_DIR) {
		err = -EISDIR;
	} else if (off < n->size) {
		size_t cnt = n->size - off;
		if (cnt > size)
			cnt = size;
		memcpy(buf, n->data + off, cnt);
		*nread = cnt;
	}
	pthread_rwlock_unlock(&db->lock);
	return err;
}

int memdb_read_removed(struct memdb *db, uint64_t inode, char **data, size_t *len,
                       struct memdb_stat *st)
{
	int err = -ENOENT;

	if (data) {
		*data = NULL;
		*len = 0;
	}
	pthread_rwlock_rdlock(&db->lock);
	if (db->poisoned) {
		pthread_rwlock_unlock(&db->lock);
		return -EIO;
	}
	for (unsigned i = 0; i < MEMDB_GRAVE_SLOTS; i++) {
		struct memdb_node *n = db->grave[i];
		if (!n || n->inode != inode)
			continue;
		err = 0;
		if (data && n->size && !(*data = malloc(n->size)))
			err = -ENOMEM;
		else if (data && n->size)
			memcpy(*data, n->data, n->size);
		if (!err) {
			if (len)
				*len = n->size;
			fill_stat(n, st);
		}
		break;
	}
	pthread_rwlock_unlock(&db->lock);
	return err;
}

int memdb_read_all(struct memdb *db, uint64_t inode, char **data, size_t *len,
                   struct memdb_stat *st)
{
	int err = 0;

	*data = NULL;
	*len = 0;
	pthread_rwlock_rdlock(&db->lock);
	if (db->poisoned) {
		pthread_rwlock_unlock(&db->lock);
		return -EIO;
	}
	struct memdb_node *n = find_ino(db, inode);
	if (!n) {
		err = -ENOENT;
	} else if (n->type == MEMDB_DIR) {
		err = -EISDIR;
	} else {
		if (n->size) {
			*data = malloc(n->size);
			if (*data)
				memcpy(*data, n->data, n->size);
			else
				err = -ENOMEM;
		}
		if (!err) {
			*len = n->size;
			if (st)
				fill_stat(n, st);
		}
	}
	pthread_rwlock_unlock(&db->lock);
	return err;
}

int memdb_readdir(struct memdb *db, uint64_t inode, struct memdb_dirent **ents, size_t *count)
{
	int err = 0;
	size_t i = 0;

	*ents = NULL;
	*count = 0;
	pthread_rwlock_rdlock(&db->lock);
	if (db->poisoned) {
		pthread_rwlock_unlock(&db->lock);
		return -EIO;
	}
	struct memdb_node *d = find_ino(db, inode);
	if (!d) {
		err = -ENOENT;
	} else if (d->type != MEMDB_DIR) {
		err = -ENOTDIR;
	} else if (d->nchildren) {
		struct memdb_dirent *e = calloc(d->nchildren, sizeof(*e));
		if (!e)
			err = -ENOMEM;
		for (struct memdb_node *c = d->child_first; e && c; c = c->sib_next, i++) {
			e[i].inode = c->inode;
			e[i].type = c->type;
			e[i].name = strdup(c->name);
			if (!e[i].name) {
				memdb_dirents_free(e, i);
				e = NULL;
				err = -ENOMEM;
			}
		}
		if (e) {
			*ents = e;
			*count = i;
		}
	}
	pthread_rwlock_unlock(&db->lock);
	return err;
}

void memdb_dirents_free(struct memdb_dirent *ents, size_t n)
{
	for (size_t i = 0; ents && i < n; i++)
		free(ents[i].name);
	free(ents);
}

void memdb_vmlist(struct memdb *db, memdb_vm_cb cb, void *ctx)
{
	pthread_rwlock_rdlock(&db->lock);
	for (size_t i = 0; !db->poisoned && i <= db->by_vm.mask; i++) {
		for (struct memdb_node *n = db->by_vm.b[i]; n; n = n->vm_next) {
			const struct memdb_node *dir = n->parent_node;
			cb(ctx, n->vmid, dir->parent_node->name, guest_dir_type(dir), n->version);
		}
	}
	pthread_rwlock_unlock(&db->lock);
}

bool memdb_kcache_claim(struct memdb *db, uint64_t inode, uint64_t version)
{
	bool same = false;

	pthread_rwlock_rdlock(&db->lock);
	struct memdb_node *n = find_ino(db, inode);
	if (n) {
		uint64_t old = __atomic_exchange_n(&n->kcache_version, version, __ATOMIC_RELAXED);
		same = old == version;
	}
	pthread_rwlock_unlock(&db->lock);
	return same;
}

/* ---- cluster sync support ---- */

void memdb_rdlock(struct memdb *db)
{
	pthread_rwlock_rdlock(&db->lock);
}

uint64_t memdb_version_locked(struct memdb *db)
{
	return db->version;
}

static uint64_t hash_bytes(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	/* FNV-1a 64, finished with mix64: not cryptographic, only divergence detection */
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t memdb_row_hash(const struct memdb_row *r)
{
	uint64_t h = 0xcbf29ce484222325ull;
	/* fixed-width fields, so every node computes the same value */
	uint64_t f[6] = {
		r->inode,         r->parent, r->version, (uint64_t)r->mtime, (uint64_t)r->name_len,
		(uint64_t)r->size
	};

	h = hash_bytes(h, f, sizeof(f));
	h = hash_bytes(h, &r->type, 1);
	h = hash_bytes(h, r->name, r->name_len);
	if (r->size)
		h = hash_bytes(h, r->data, r->size);
	return mix64(h);
}

uint64_t memdb_checksum_locked(struct memdb *db)
{
	uint64_t sum = mix64(db->version);
	for (size_t i = 0; i <= db->by_ino.mask; i++) {
		for (struct memdb_node *n = db->by_ino.b[i]; n; n = n->ino_next) {
			struct memdb_row r;
			fill_row(n, &r);
			sum += memdb_row_hash(&r); /* order independent: rows are unique */
		}
	}
	return sum;
}

uint64_t memdb_checksum(struct memdb *db, uint64_t *version, uint64_t *inodes)
{
	uint64_t sum;
	pthread_rwlock_rdlock(&db->lock);
	sum = memdb_checksum_locked(db);
	if (version)
		*version = db->version;
	if (inodes)
		*inodes = db->ninodes;
	pthread_rwlock_unlock(&db->lock);
	return sum;
}

int memdb_row_locked(struct memdb *db, uint64_t inode, struct memdb_row *row)
{
	struct memdb_node *n = find_ino(db, inode);
	if (!n)
		return -ENOENT;
	fill_row(n, row);
	return 0;
}

void memdb_path_locked(struct memdb *db, uint64_t inode, char *buf, size_t len)
{
	const struct memdb_node *chain[64];
	size_t depth = 0, off = 0;
	struct memdb_node *n = find_ino(db, inode);

	for (; n && n->inode != MEMDB_ROOT_INODE && depth < 64; n = find_ino(db, n->parent))
		chain[depth++] = n;
	buf[0] = 0;
	while (depth-- > 0 && off + 1 < len) {
		int w = snprintf(buf + off, len - off, "/%.*s", (int)chain[depth]->name_len,
		                 chain[depth]->name);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	if (!buf[0])
		snprintf(buf, len, "/");
}
