/*-------------------------------------------------------------------------
 * toposort.c
 *	  Kahn's algorithm over a binary heap keyed by (priority, index).
 *
 * O((n + e) log n) time, O(n + e) memory.  See toposort.h.
 *-------------------------------------------------------------------------
 */
#include "toposort.h"

#include <stdlib.h>

typedef struct Heap
{
	int		   *items;
	int			len;
	const int  *prio;
} Heap;

static int
before(const Heap *h, int a, int b)
{
	if (h->prio[a] != h->prio[b])
		return h->prio[a] < h->prio[b];
	return a < b;
}

static void
heap_push(Heap *h, int node)
{
	int			i = h->len++;

	h->items[i] = node;
	while (i > 0)
	{
		int			parent = (i - 1) / 2;
		int			tmp;

		if (!before(h, h->items[i], h->items[parent]))
			break;
		tmp = h->items[i];
		h->items[i] = h->items[parent];
		h->items[parent] = tmp;
		i = parent;
	}
}

static int
heap_pop(Heap *h)
{
	int			top = h->items[0];
	int			i = 0;

	h->items[0] = h->items[--h->len];
	for (;;)
	{
		int			l = 2 * i + 1;
		int			r = l + 1;
		int			best = i;
		int			tmp;

		if (l < h->len && before(h, h->items[l], h->items[best]))
			best = l;
		if (r < h->len && before(h, h->items[r], h->items[best]))
			best = r;
		if (best == i)
			break;
		tmp = h->items[i];
		h->items[i] = h->items[best];
		h->items[best] = tmp;
		i = best;
	}
	return top;
}

/*
 * Nothing is ready, so the waiting nodes hold a cycle: walk from the lowest
 * waiting node along dependencies not yet placed until a node repeats, and
 * return the lowest node of the cycle found.  'step' is scratch of n ints.
 */
static int
cycle_member(int n, const int *const *deps, const int *ndeps, const char *placed,
			 const Heap *h, int *step)
{
	int			start = -1;
	int			node;
	int			k = 0;
	int			pick;
	int			i;

	for (i = 0; i < n; i++)
	{
		step[i] = -1;
		if (!placed[i] && (start < 0 || before(h, i, start)))
			start = i;
	}
	node = start;
	while (step[node] < 0)
	{
		int			next = -1;

		step[node] = k++;
		for (i = 0; i < ndeps[node] && next < 0; i++)
		{
			int			d = deps[node][i];

			if (d >= 0 && d < n && d != node && !placed[d])
				next = d;
		}
		if (next < 0)
			return node;		/* cannot happen while nothing is ready */
		node = next;
	}
	/* the nodes walked since 'node' first appeared form the cycle */
	pick = node;
	for (i = 0; i < n; i++)
		if (step[i] >= step[node] && before(h, i, pick))
			pick = i;
	return pick;
}

int
toposort(int n, const int *prio, const int *const *deps, const int *ndeps, int *order)
{
	int		   *waiting;		/* per node: dependencies not yet placed */
	int		   *rstart;			/* reverse edges in CSR form: who waits on me */
	int		   *rlist;
	int		   *fill;
	char	   *placed;
	Heap		ready;
	int			edges = 0;
	int			done = 0;
	int			breaks = 0;
	int			i,
				j;

	if (n <= 0)
		return 0;
	waiting = calloc(n, sizeof(int));
	rstart = calloc(n + 1, sizeof(int));
	fill = calloc(n, sizeof(int));
	placed = calloc(n, 1);
	ready.items = malloc(sizeof(int) * n);
	ready.len = 0;
	ready.prio = prio;
	for (i = 0; i < n; i++)
		for (j = 0; j < ndeps[i]; j++)
			if (deps[i][j] >= 0 && deps[i][j] < n && deps[i][j] != i)
				edges++;
	rlist = malloc(sizeof(int) * (edges > 0 ? edges : 1));
	if (!waiting || !rstart || !fill || !placed || !ready.items || !rlist)
	{
		breaks = -1;
		goto done;
	}

	/* a duplicated dependency counts twice on both sides: still consistent */
	for (i = 0; i < n; i++)
		for (j = 0; j < ndeps[i]; j++)
		{
			int			d = deps[i][j];

			if (d >= 0 && d < n && d != i)
			{
				waiting[i]++;
				rstart[d + 1]++;
			}
		}
	for (i = 0; i < n; i++)
		rstart[i + 1] += rstart[i];
	for (i = 0; i < n; i++)
		for (j = 0; j < ndeps[i]; j++)
		{
			int			d = deps[i][j];

			if (d >= 0 && d < n && d != i)
				rlist[rstart[d] + fill[d]++] = i;
		}

	for (i = 0; i < n; i++)
		if (waiting[i] == 0)
			heap_push(&ready, i);

	while (done < n)
	{
		int			node;

		if (ready.len == 0)
		{
			int			pick = cycle_member(n, deps, ndeps, placed, &ready, fill);

			waiting[pick] = 0;
			heap_push(&ready, pick);
			breaks++;
		}
		node = heap_pop(&ready);
		if (placed[node])
			continue;
		placed[node] = 1;
		order[done++] = node;
		for (j = rstart[node]; j < rstart[node + 1]; j++)
		{
			int			w = rlist[j];

			if (!placed[w] && --waiting[w] == 0)
				heap_push(&ready, w);
		}
	}

done:
	free(waiting);
	free(rstart);
	free(fill);
	free(placed);
	free(ready.items);
	free(rlist);
	return breaks;
}
