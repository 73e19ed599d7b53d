/*
 * test_toposort.c: unit tests of the restore's creation order (toposort.c),
 * run without a server.  Prints one line per failed check and, last,
 * "toposort: N passed, M failed"; exits non-zero on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toposort.h"

#include "check.h"

/* position of each node in an order */
static void
positions(int n, const int *order, int *pos)
{
	int			i;

	for (i = 0; i < n; i++)
		pos[order[i]] = i;
}

/* every node appears exactly once */
static int
is_permutation(int n, const int *order)
{
	char	   *seen = calloc(n, 1);
	int			i;
	int			ok = 1;

	for (i = 0; i < n; i++)
	{
		if (order[i] < 0 || order[i] >= n || seen[order[i]])
			ok = 0;
		else
			seen[order[i]] = 1;
	}
	free(seen);
	return ok;
}

static void
test_small(void)
{
	/* 0: table (prio 7) needs 2; 1: view (prio 8) needs 0; 2: type (prio 1); 3: function (prio 3) needs 0 */
	int			prio[4] = {7, 8, 1, 3};
	int			d0[] = {2};
	int			d1[] = {0};
	int			d3[] = {0};
	const int  *deps[4] = {d0, d1, NULL, d3};
	int			ndeps[4] = {1, 1, 0, 1};
	int			order[4];
	int			pos[4];

	CHECK(toposort(4, prio, deps, ndeps, order) == 0, "no cycle in a DAG");
	positions(4, order, pos);
	CHECK(is_permutation(4, order), "every node once");
	CHECK(order[0] == 2, "the type goes first (%d)", order[0]);
	CHECK(pos[0] < pos[1] && pos[0] < pos[3], "the table before the view and the function that need it");
	CHECK(pos[3] < pos[1], "among ready nodes the lower priority goes first (function %d, view %d)", pos[3], pos[1]);
}

static void
test_ties_and_junk(void)
{
	/* equal priorities keep index order; out-of-range and self deps are ignored */
	int			prio[5] = {0, 0, 0, 0, 0};
	int			d2[] = {2, -1, 99};
	int			d4[] = {3, 3};
	const int  *deps[5] = {NULL, NULL, d2, NULL, d4};
	int			ndeps[5] = {0, 0, 3, 0, 2};
	int			order[5];
	int			i;

	CHECK(toposort(5, prio, deps, ndeps, order) == 0, "self and out-of-range deps are no cycle");
	for (i = 0; i < 5; i++)
		CHECK(order[i] == i, "stable order at %d: %d", i, order[i]);
	CHECK(toposort(0, prio, deps, ndeps, order) == 0, "empty input");
}

static void
test_cycle(void)
{
	/* 0 -> 1 -> 2 -> 0, and 3 needs 2 */
	int			prio[4] = {5, 1, 5, 0};
	int			d0[] = {1};
	int			d1[] = {2};
	int			d2[] = {0};
	int			d3[] = {2};
	const int  *deps[4] = {d0, d1, d2, d3};
	int			ndeps[4] = {1, 1, 1, 1};
	int			order[4];
	int			pos[4];

	CHECK(toposort(4, prio, deps, ndeps, order) == 1, "one cycle broken");
	positions(4, order, pos);
	CHECK(is_permutation(4, order), "every node once despite the cycle");
	CHECK(order[0] == 1, "the cycle breaks at its lowest waiting node (%d)", order[0]);
	CHECK(pos[1] < pos[0] && pos[0] < pos[2] && pos[2] < pos[3], "the rest in dependency order");
}

static void
test_random_dags(void)
{
	int			round;
	unsigned	seed = 12345;

	for (round = 0; round < 200; round++)
	{
		int			n = 1 + round * 7 % 300;
		int		   *prio = malloc(sizeof(int) * n);
		int		  **deps = malloc(sizeof(int *) * n);
		int		   *ndeps = malloc(sizeof(int) * n);
		int		   *order = malloc(sizeof(int) * n);
		int		   *pos = malloc(sizeof(int) * n);
		int			i,
					j;
		int			bad = 0;

		for (i = 0; i < n; i++)
		{
			seed = seed * 1103515245 + 12345;
			prio[i] = (seed >> 16) % 9;
			/* only edges to lower indexes: a DAG */
			ndeps[i] = i == 0 ? 0 : (int) ((seed >> 8) % 4);
			deps[i] = malloc(sizeof(int) * (ndeps[i] + 1));
			for (j = 0; j < ndeps[i]; j++)
			{
				seed = seed * 1103515245 + 12345;
				deps[i][j] = (seed >> 16) % i;
			}
		}
		if (toposort(n, prio, (const int *const *) deps, ndeps, order) != 0)
			bad++;
		positions(n, order, pos);
		if (!is_permutation(n, order))
			bad++;
		for (i = 0; i < n; i++)
			for (j = 0; j < ndeps[i]; j++)
				if (pos[deps[i][j]] >= pos[i])
					bad++;
		CHECK(bad == 0, "random DAG %d of %d nodes: %d violations", round, n, bad);
		for (i = 0; i < n; i++)
			free(deps[i]);
		free(prio);
		free(deps);
		free(ndeps);
		free(order);
		free(pos);
	}
}

int
main(void)
{
	test_small();
	test_ties_and_junk();
	test_cycle();
	test_random_dags();
	printf("toposort: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
