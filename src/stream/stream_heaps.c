/*-------------------------------------------------------------------------
 * stream_heaps.c
 *	  The heaps a table's stream holds, in stream order.
 *
 * Owns: that order (the table itself, or the leaves of a partitioned table
 * as find_all_inheritors lists them), which the stream's rows, its block
 * ranges and its page digest all follow.  It reads no row and no page.
 *-------------------------------------------------------------------------
 */
#include "stream/stream.h"

#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

/*
 * The heaps whose rows a stream of rel holds, in stream order: rel itself,
 * or the leaves of a partitioned table (locked here, as the scan of the
 * whole table would lock them).
 */
List *
table_stream_heaps(Relation rel)
{
	List	   *heaps = NIL;
	ListCell   *lc;

	if (rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE)
		return list_make1_oid(RelationGetRelid(rel));
	foreach(lc, find_all_inheritors(RelationGetRelid(rel), AccessShareLock, NULL))
	{
		if (get_rel_relkind(lfirst_oid(lc)) == RELKIND_RELATION)
			heaps = lappend_oid(heaps, lfirst_oid(lc));
	}
	return heaps;
}
