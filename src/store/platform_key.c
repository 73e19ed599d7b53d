/*-------------------------------------------------------------------------
 * platform_key.c
 *	  The platform key: the file that wraps the keys of every vault, in
 *	  every database of the cluster, that has no customer key.
 *
 * Owns the file (vault.platform_key_file, relative to the data directory
 * unless absolute): creating it 0600 with the first vault, refusing it when
 * group or others may read it (as PostgreSQL refuses such SSL key files),
 * reading it again when it changes on disk, and its rotation.
 *
 * The file holds a keyring: the current key, which wraps new keys, and,
 * while a rotation is under way, the keys it replaces (format v2; a file of
 * one key keeps 1.0's format v1).  Since the file serves every database,
 * a rotation never drops a key some vault may still be wrapped with: it
 * first adds the new key in front of the old ones (so every wrap still
 * opens, whatever happens next), its caller re-wraps the vaults of every
 * database, and only when all of that is done does the commit leave the
 * new key alone in the file.  Until the commit is through, the keyring as
 * it was just before is kept as "<file>.old" (and read as a fallback, for a
 * crash between the two); an abort puts the file back as it was if no
 * other database changed.  Must never log or return key material beyond
 * the key buffers it hands to keys.c; must not know about vaults.
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/lock.h"

#define KEYFILE_MAGIC_V1	"vault-platform-key-v1\n"
#define KEYFILE_MAGIC_V2	"vault-platform-keyring-v2\n"
#define KEYRING_MAX			16
#define KEYLINE_LEN			(2 * CODEC_KEY_LEN + 1)
#define KEYFILE_MAX			(sizeof(KEYFILE_MAGIC_V2) - 1 + KEYRING_MAX * KEYLINE_LEN)

typedef struct Keyring
{
	int			n;
	uint8		keys[KEYRING_MAX][CODEC_KEY_LEN];	/* [0]: the current key */
} Keyring;

/* a keyring read from a file, with what tells whether the file changed since */
typedef struct LoadedKeyring
{
	bool		loaded;
	char		path[MAXPGPATH];
	dev_t		dev;
	ino_t		ino;
	time_t		mtime;
	off_t		size;
	Keyring		ring;
} LoadedKeyring;

static LoadedKeyring current;
static LoadedKeyring previous;

/* a rotation in this transaction */
typedef struct Rotation
{
	bool		pending;
	bool		others_done;	/* every other database re-wrapped */
	bool		others_changed; /* some other database committed a re-wrap */
	bool		dropped;		/* PRE_COMMIT left the new key alone */
	char		path[MAXPGPATH];
	Keyring		before;			/* the file as it was */
	Keyring		during;			/* the new key in front of the old ones */
} Rotation;

static Rotation rotation;
static bool rotation_callback_registered = false;

static void
keyfile_path(char *path)
{
	const char *p = vault_platform_key_file;

	if (p == NULL || p[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("vault.platform_key_file is not set")));
	if (is_absolute_path(p))
		strlcpy(path, p, MAXPGPATH);
	else
		snprintf(path, MAXPGPATH, "%s/%s", DataDir, p);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The file's text for a keyring: v1 for one key, v2 for several. */
static size_t
keyring_format(const Keyring *ring, char *buf)
{
	static const char hexd[] = "0123456789abcdef";
	const char *magic = ring->n == 1 ? KEYFILE_MAGIC_V1 : KEYFILE_MAGIC_V2;
	size_t		len = strlen(magic);
	int			k;
	int			i;

	memcpy(buf, magic, len);
	for (k = 0; k < ring->n; k++)
	{
		for (i = 0; i < CODEC_KEY_LEN; i++)
		{
			buf[len++] = hexd[ring->keys[k][i] >> 4];
			buf[len++] = hexd[ring->keys[k][i] & 15];
		}
		buf[len++] = '\n';
	}
	return len;
}

static bool
keyring_parse(const char *buf, size_t len, Keyring *ring)
{
	size_t		mlen;
	size_t		pos;
	int			i;

	if (len >= strlen(KEYFILE_MAGIC_V1) && memcmp(buf, KEYFILE_MAGIC_V1, strlen(KEYFILE_MAGIC_V1)) == 0)
		mlen = strlen(KEYFILE_MAGIC_V1);
	else if (len >= strlen(KEYFILE_MAGIC_V2) && memcmp(buf, KEYFILE_MAGIC_V2, strlen(KEYFILE_MAGIC_V2)) == 0)
		mlen = strlen(KEYFILE_MAGIC_V2);
	else
		return false;
	if ((len - mlen) % KEYLINE_LEN != 0)
		return false;
	ring->n = (int) ((len - mlen) / KEYLINE_LEN);
	if (ring->n < 1 || ring->n > KEYRING_MAX || (mlen == strlen(KEYFILE_MAGIC_V1) && ring->n != 1))
		return false;
	for (pos = mlen; pos < len; pos += KEYLINE_LEN)
	{
		uint8	   *key = ring->keys[(pos - mlen) / KEYLINE_LEN];

		if (buf[pos + 2 * CODEC_KEY_LEN] != '\n')
			return false;
		for (i = 0; i < CODEC_KEY_LEN; i++)
		{
			int			hi = hexval(buf[pos + 2 * i]);
			int			lo = hexval(buf[pos + 2 * i + 1]);

			if (hi < 0 || lo < 0)
				return false;
			key[i] = (uint8) (hi << 4 | lo);
		}
	}
	return true;
}

/*
 * Write 'ring' to 'path' durably: a temporary file beside it, renamed over
 * it.  excl: fail (return false) if 'path' exists.
 */
static bool
keyring_write(const char *path, const Keyring *ring, bool excl)
{
	char		buf[KEYFILE_MAX];
	char		tmp[MAXPGPATH];
	size_t		len = keyring_format(ring, buf);
	int			fd;

	snprintf(tmp, MAXPGPATH, "%s.tmp", path);
	fd = OpenTransientFilePerm(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY, S_IRUSR | S_IWUSR);
	if (fd < 0)
	{
		explicit_bzero(buf, sizeof(buf));
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create platform key file \"%s\": %m", tmp)));
	}
	if (write(fd, buf, len) != len || pg_fsync(fd) != 0)
	{
		int			save_errno = errno;

		explicit_bzero(buf, sizeof(buf));
		CloseTransientFile(fd);
		unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write platform key file \"%s\": %m", tmp)));
	}
	explicit_bzero(buf, sizeof(buf));
	CloseTransientFile(fd);
	if (excl)
	{
		/* a link fails if the name is taken: someone else created it first */
		if (link(tmp, path) != 0)
		{
			int			save_errno = errno;

			unlink(tmp);
			if (save_errno == EEXIST)
				return false;
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create platform key file \"%s\": %m", path)));
		}
		(void) durable_unlink(tmp, ERROR);
		return true;
	}
	(void) durable_rename(tmp, path, ERROR);
	return true;
}

/*
 * Read the keyring at 'path' into 'lk' unless it is loaded and unchanged
 * on disk.  missing_ok: return false when it does not exist.
 */
static bool
keyring_load(const char *path, LoadedKeyring *lk, bool missing_ok)
{
	char		buf[KEYFILE_MAX + 1];
	struct stat st;
	int			fd;
	int			n;
	bool		ok;

	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		if (errno == ENOENT && missing_ok)
			return false;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open platform key file \"%s\": %m", path),
				 errhint("The vaults' keys are wrapped by this file; restore it from your key backup or set vault.platform_key_file.")));
	}
	if (fstat(fd, &st) != 0)
	{
		int			save_errno = errno;

		CloseTransientFile(fd);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not stat platform key file \"%s\": %m", path)));
	}
	/* as PostgreSQL refuses an SSL key file that others may read */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		CloseTransientFile(fd);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("platform key file \"%s\" has group or world access", path),
				 errdetail("Its mode is %04o; it must be u=rw (0600) or less.", (unsigned) (st.st_mode & 07777)),
				 errhint("chmod 0600 the file, and consider who may have read it.")));
	}
	if (lk->loaded && strcmp(lk->path, path) == 0 && lk->dev == st.st_dev && lk->ino == st.st_ino &&
		lk->mtime == st.st_mtime && lk->size == st.st_size)
	{
		CloseTransientFile(fd);
		return true;
	}
	n = read(fd, buf, sizeof(buf));
	CloseTransientFile(fd);
	ok = n > 0 && keyring_parse(buf, n, &lk->ring);
	explicit_bzero(buf, sizeof(buf));
	if (!ok)
	{
		lk->loaded = false;
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("platform key file \"%s\" is not a vault platform key", path)));
	}
	strlcpy(lk->path, path, MAXPGPATH);
	lk->dev = st.st_dev;
	lk->ino = st.st_ino;
	lk->mtime = st.st_mtime;
	lk->size = st.st_size;
	lk->loaded = true;
	return true;
}

/*
 * The current platform key, read again whenever the file changed (a
 * rotation committed by another session).  create: make the file when it
 * is missing (the first vault only: once vaults exist, a missing key file
 * is an error, never silently a new key).
 */
const uint8 *
platform_key_get(bool create)
{
	char		path[MAXPGPATH];

	keyfile_path(path);
	if (!keyring_load(path, &current, create))
	{
		Keyring    *ring = secret_alloc(sizeof(Keyring));

		ring->n = 1;
		if (codec_random(ring->keys[0], CODEC_KEY_LEN) != CODEC_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate a random platform key")));
		if (keyring_write(path, ring, true))
			ereport(LOG,
					(errmsg("vault: created platform key file \"%s\"", path),
					 errhint("Back this file up separately from the database: without it no vault can be opened.")));
		(void) keyring_load(path, &current, false);
	}
	return current.ring.keys[0];
}

/*
 * Every platform key that may have wrapped a vault's keys, the current one
 * first: the keyring's, then those of "<file>.old" (what a crash during a
 * rotation's commit leaves).  Returns how many it put in 'out'.
 */
int
platform_key_candidates(const uint8 **out, int max)
{
	char		path[MAXPGPATH];
	char		old[MAXPGPATH];
	int			n = 0;
	int			i;

	(void) platform_key_get(false);
	for (i = 0; i < current.ring.n && n < max; i++)
		out[n++] = current.ring.keys[i];
	keyfile_path(path);
	snprintf(old, MAXPGPATH, "%s.old", path);
	if (keyring_load(old, &previous, true))
		for (i = 0; i < previous.ring.n && n < max; i++)
			out[n++] = previous.ring.keys[i];
	return n;
}

/*
 * The end of a rotating transaction.  PRE_COMMIT: if every database was
 * re-wrapped, keep the keyring as "<file>.old" and leave the new key alone
 * in the file.  COMMIT: "<file>.old" goes.  ABORT: undo what PRE_COMMIT
 * did, and if no other database changed, put the file back as it was.
 */
static void
rotation_xact_callback(XactEvent event, void *arg)
{
	char		oldpath[MAXPGPATH];

	if (!rotation.pending)
		return;
	snprintf(oldpath, MAXPGPATH, "%s.old", rotation.path);
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (rotation.others_done)
			{
				Keyring    *alone = secret_alloc(sizeof(Keyring));

				(void) keyring_write(oldpath, &rotation.during, false);
				alone->n = 1;
				memcpy(alone->keys[0], rotation.during.keys[0], CODEC_KEY_LEN);
				(void) keyring_write(rotation.path, alone, false);
				rotation.dropped = true;
			}
			break;
		case XACT_EVENT_COMMIT:
			if (rotation.dropped)
				(void) durable_unlink(oldpath, WARNING);
			explicit_bzero(&rotation, sizeof(rotation));
			break;
		case XACT_EVENT_ABORT:
			/* this database's vaults are under an old key again */
			PG_TRY();
			{
				(void) keyring_write(rotation.path, rotation.others_changed ? &rotation.during : &rotation.before,
									 false);
				if (rotation.dropped)
					(void) durable_unlink(oldpath, WARNING);
			}
			PG_CATCH();
			{
				/* the keyring file still holds every key; say so and go on aborting */
				EmitErrorReport();
				FlushErrorState();
			}
			PG_END_TRY();
			explicit_bzero(&rotation, sizeof(rotation));
			break;
		case XACT_EVENT_PRE_PREPARE:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot prepare a transaction that rotated the platform key")));
			break;
		default:
			break;
	}
}

/*
 * Begin a rotation in this transaction: one at a time in the cluster (a
 * lock held to the transaction's end); a new key goes in front of the
 * keyring at once, and is returned for the caller to re-wrap vaults with.
 */
const uint8 *
platform_key_rotate_begin(void)
{
	LOCKTAG		tag;
	int			i;

	if (rotation.pending)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the platform key was already rotated in this transaction")));
	/* cluster-wide: database 0, the letters "vault", 1 */
	SET_LOCKTAG_ADVISORY(tag, InvalidOid, 0x7661756c, 0x74, 1);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	keyfile_path(rotation.path);
	(void) platform_key_get(false);
	rotation.before = current.ring;
	if (current.ring.n >= KEYRING_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("platform key file \"%s\" holds %d keys from unfinished rotations", rotation.path,
						current.ring.n),
				 errhint("Make the databases that failed to re-wrap reachable, and rotate again.")));
	rotation.during.n = current.ring.n + 1;
	if (codec_random(rotation.during.keys[0], CODEC_KEY_LEN) != CODEC_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random platform key")));
	for (i = 0; i < current.ring.n; i++)
		memcpy(rotation.during.keys[i + 1], current.ring.keys[i], CODEC_KEY_LEN);

	if (!rotation_callback_registered)
	{
		RegisterXactCallback(rotation_xact_callback, NULL);
		rotation_callback_registered = true;
	}
	rotation.pending = true;
	(void) keyring_write(rotation.path, &rotation.during, false);
	return platform_key_get(false);
}

/*
 * What the rotation's caller learned from the other databases: whether
 * every one was re-wrapped (then the commit drops the old keys), and
 * whether any committed a change (then an abort keeps the new key).
 */
void
platform_key_rotate_others(bool done, bool changed)
{
	Assert(rotation.pending);
	rotation.others_done = done;
	rotation.others_changed = changed;
}
