/*-------------------------------------------------------------------------
 * toposort.h
 *	  Creation order of a restore: a topological sort with priorities, pure C.
 *
 * Owns: ordering nodes so that each comes after every node it depends on,
 * choosing among the nodes that are free to go the one of lowest priority,
 * then lowest index (so that the order is stable and reads like pg_dump's:
 * types, functions, sequences, tables, views).  A dependency cycle, which
 * PostgreSQL itself cannot create in one pass, is broken by letting the
 * lowest waiting node go first; the count of such breaks is returned.
 * Knows nothing about PostgreSQL.
 *-------------------------------------------------------------------------
 */
#ifndef VAULT_TOPOSORT_H
#define VAULT_TOPOSORT_H

/*
 * n nodes; prio[i] their priorities; deps[i][0..ndeps[i]-1] the indexes of
 * the nodes node i depends on (out-of-range indexes and self-references are
 * ignored).  Writes the order into order[0..n-1]; returns the number of
 * cycles broken, or -1 if memory ran out.
 */
extern int	toposort(int n, const int *prio, const int *const *deps, const int *ndeps, int *order);

#endif							/* VAULT_TOPOSORT_H */
