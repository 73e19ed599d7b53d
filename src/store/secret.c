/*-------------------------------------------------------------------------
 * secret.c
 *	  Memory for secrets: buffers wiped when their memory context goes.
 *
 * Owns the one rule every holder of key material follows: secret bytes
 * live in memory registered here, and are overwritten (explicit_bzero)
 * when the memory context that holds them is reset or deleted, which is
 * also what an error does to an operation's memory.  Must not know what
 * the secrets are.
 *-------------------------------------------------------------------------
 */
#include "store/store.h"

#include "utils/memutils.h"

typedef struct WipeCallback
{
	MemoryContextCallback cb;
	void	   *ptr;
	Size		len;
} WipeCallback;

static void
wipe_callback(void *arg)
{
	WipeCallback *w = (WipeCallback *) arg;

	explicit_bzero(w->ptr, w->len);
}

/* Wipe len bytes at ptr, which live in 'cxt', when 'cxt' is reset or deleted. */
void
secret_wipe_with(MemoryContext cxt, void *ptr, Size len)
{
	WipeCallback *w = MemoryContextAlloc(cxt, sizeof(WipeCallback));

	w->ptr = ptr;
	w->len = len;
	w->cb.func = wipe_callback;
	w->cb.arg = w;
	MemoryContextRegisterResetCallback(cxt, &w->cb);
}

/* A zeroed buffer for secret bytes, wiped with the current memory context. */
void *
secret_alloc(Size len)
{
	void	   *p = palloc0(len);

	secret_wipe_with(CurrentMemoryContext, p, len);
	return p;
}
